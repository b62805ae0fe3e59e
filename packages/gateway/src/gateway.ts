import { createDestinationPolicy, guardConnect } from "@sockkit/core";
import type { GatewayContext, Route } from "./context.js";
import { HttpError, errorResponse } from "./http.js";
import { createAccess, type Grant } from "./policy/access.js";
import { createCommandPolicy } from "./policy/commands.js";
import { createTopicPolicy } from "./policy/topics.js";
import { resolveLimits, type Gateway, type GatewayOptions } from "./options.js";
import { ROUTES } from "./routes/index.js";
import { Slots } from "./slots.js";

/**
 * The gateway as one `fetch` handler: the same in a Worker and on Node.
 * Every destination passes the destination policy before any byte leaves.
 */
export function createGateway(options: GatewayOptions): Gateway {
  if (typeof options?.connect !== "function") throw new TypeError("createGateway() needs a connect function");
  const limits = resolveLimits(options.limits);
  const policy =
    options.policy ??
    createDestinationPolicy({
      publicOnly: true,
      allow: options.allow ?? [],
      publicPorts: [...(options.publicPorts ?? [6379, 1883, 8883])],
    });
  const context: GatewayContext = {
    options,
    limits,
    policy,
    connect: guardConnect(options.connect, policy, options.guard),
    slots: new Slots(limits.maxConcurrentPerClient),
    access: createAccess(options),
  };
  const byPath = new Map<string, Route[]>();
  for (const route of ROUTES) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
  const cors: Record<string, string> = options.corsOrigin
    ? {
        "access-control-allow-origin": options.corsOrigin,
        "access-control-allow-headers": "authorization, content-type",
        "access-control-allow-methods": "GET, POST, OPTIONS",
      }
    : {};

  const dispatch = async (request: Request, url: URL, client: string): Promise<Response> => {
    const candidates = byPath.get(url.pathname);
    const route = candidates?.find((r) => r.method === request.method);
    const grant = context.access.authenticate(request.headers.get("authorization"));
    if (!route?.public && grant === undefined)
      throw new HttpError(401, "EUNAUTHORIZED", "a valid Authorization: Bearer token is required");
    if (!candidates) throw new HttpError(404, "ENOTFOUND", `no route ${request.method} ${url.pathname}`);
    if (!route) throw new HttpError(405, "EMETHOD", `use ${candidates.map((r) => r.method).join(" or ")}`);
    return route.handle({ request, url, client, grant: grant ?? PUBLIC, context });
  };

  return {
    async fetch(request, info) {
      const url = new URL(request.url);
      if (request.method === "OPTIONS" && options.corsOrigin) return new Response(null, { status: 204, headers: cors });
      const client = info?.clientAddress ?? request.headers.get("cf-connecting-ip") ?? "unknown";
      let response: Response;
      try {
        response = await dispatch(request, url, client);
      } catch (error) {
        response = errorResponse(error);
      }
      for (const [name, value] of Object.entries(cors)) response.headers.set(name, value);
      return response;
    },
  };
}

/** The public routes' caller when it sent no valid token: it may do nothing upstream. */
const PUBLIC: Grant = {
  name: "public",
  commands: createCommandPolicy("-@all"),
  publish: createTopicPolicy([]),
  subscribe: createTopicPolicy([]),
};
