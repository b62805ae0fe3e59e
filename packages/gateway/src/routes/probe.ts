import type { Route } from "../context.js";
import { json } from "../http.js";
import { probe, type ProbeKind } from "../probe.js";
import { at, describeTarget, destination } from "../target.js";
import { upstream } from "../upstream.js";

/** GET /probe/{redis,mqtt,tcp}: named or public destinations. */
function probeRoute(kind: ProbeKind): Route {
  return {
    method: "GET",
    path: `/probe/${kind}`,
    async handle(call) {
      const { url, client, context } = call;
      const target = destination(Object.fromEntries(url.searchParams), kind);
      call.record.upstream = describeTarget(kind, target);
      const banner = url.searchParams.get("banner");
      const result = await context.slots.with(client, () =>
        upstream(call, kind, target, () =>
          probe(
            kind,
            context.connects[kind],
            { ...at(target), tls: target.tls },
            {
              connectTimeoutMs: context.limits.connectTimeoutMs,
              operationTimeoutMs: context.limits.operationTimeoutMs,
              banner: banner === "1" || banner === "true",
            },
          ),
        ),
      );
      return json(result);
    },
  };
}

export const probeRoutes: Route[] = [probeRoute("redis"), probeRoute("mqtt"), probeRoute("tcp")];
