// The sockkit gateway as a Cloudflare Worker: the same handler as on Node.
// Configure with vars and secrets (see wrangler.jsonc):
//   ALLOW  JSON array of allow entries, e.g. [{"host":"redis.internal.example","ports":6379}]
//   TOKEN  (secret) required as "Authorization: Bearer <TOKEN>" when set
import { connect } from "@sockkit/adapter-workers";
import { createGateway, type Gateway, type GatewayOptions } from "@sockkit/gateway";

export interface Env {
  ALLOW?: string;
  TOKEN?: string;
  CORS_ORIGIN?: string;
}

let cached: { key: string; gateway: Gateway } | undefined;

function gatewayFor(env: Env): Gateway {
  const key = `${env.ALLOW ?? ""}\u0000${env.TOKEN ?? ""}\u0000${env.CORS_ORIGIN ?? ""}`;
  if (cached?.key === key) return cached.gateway;
  let allow: GatewayOptions["allow"] = [];
  if (env.ALLOW) {
    const parsed: unknown = JSON.parse(env.ALLOW);
    if (!Array.isArray(parsed)) throw new TypeError("ALLOW must be a JSON array of allow entries");
    allow = parsed as GatewayOptions["allow"];
  }
  // The gateway holds no sockets between requests: each request opens and closes its own.
  const gateway = createGateway({
    connect,
    allow,
    ...(env.TOKEN ? { token: env.TOKEN } : {}),
    ...(env.CORS_ORIGIN ? { corsOrigin: env.CORS_ORIGIN } : {}),
  });
  cached = { key, gateway };
  return gateway;
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return gatewayFor(env).fetch(request, { clientAddress: request.headers.get("cf-connecting-ip") ?? "unknown" });
  },
};
