import type { Route } from "../context.js";
import { json } from "../http.js";
import { probe, type ProbeKind } from "../probe.js";
import { at, destination } from "../target.js";

/** GET /probe/{redis,mqtt,tcp}: named or public destinations. */
function probeRoute(kind: ProbeKind): Route {
  return {
    method: "GET",
    path: `/probe/${kind}`,
    async handle({ url, client, context }) {
      const target = destination(Object.fromEntries(url.searchParams), kind);
      const banner = url.searchParams.get("banner");
      const result = await context.slots.with(client, () =>
        probe(
          kind,
          context.connect,
          { ...at(target), tls: target.tls },
          {
            connectTimeoutMs: context.limits.connectTimeoutMs,
            operationTimeoutMs: context.limits.operationTimeoutMs,
            banner: banner === "1" || banner === "true",
          },
        ),
      );
      return json(result);
    },
  };
}

export const probeRoutes: Route[] = [probeRoute("redis"), probeRoute("mqtt"), probeRoute("tcp")];
