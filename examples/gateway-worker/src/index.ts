// The sockkit gateway as a Cloudflare Worker: the same handler as on Node.
// Configure with vars and secrets (see wrangler.jsonc):
//   ALLOW   JSON array of allow entries, e.g. [{"host":"redis.internal.example","ports":6379}]
//   TOKEN   (secret) required as "Authorization: Bearer <TOKEN>" when set
//   TOKENS  (secret) JSON array of { token, name, redisCommands, mqttPublish, mqttSubscribe }: several tokens
//   ACCESS  JSON { redisCommands, mqttPublish, mqttSubscribe }: the rights of TOKEN (or of everyone without tokens)
import { connect } from "@sockkit/adapter-workers";
import { createGateway, type Gateway, type GatewayOptions } from "@sockkit/gateway";

export interface Env {
  ALLOW?: string;
  TOKEN?: string;
  TOKENS?: string;
  ACCESS?: string;
  CORS_ORIGIN?: string;
}

let cached: { key: string; gateway: Gateway } | undefined;

function gatewayFor(env: Env): Gateway {
  const key = [env.ALLOW, env.TOKEN, env.TOKENS, env.ACCESS, env.CORS_ORIGIN].map((v) => v ?? "").join("\u0000");
  if (cached?.key === key) return cached.gateway;
  const allow = parse<NonNullable<GatewayOptions["allow"]>>("ALLOW", env.ALLOW, Array.isArray) ?? [];
  const tokens = parse<NonNullable<GatewayOptions["tokens"]>>("TOKENS", env.TOKENS, Array.isArray);
  const access = parse<NonNullable<GatewayOptions["access"]>>(
    "ACCESS",
    env.ACCESS,
    (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  );
  // The gateway holds no sockets between requests: each request opens and closes its own. Its metrics
  // live as long as this isolate (GET /metrics shows one isolate's counts).
  const gateway = createGateway({
    connect,
    allow,
    ...(env.TOKEN ? { token: env.TOKEN } : {}),
    ...(tokens ? { tokens } : {}),
    ...(access ? { access } : {}),
    ...(env.CORS_ORIGIN ? { corsOrigin: env.CORS_ORIGIN } : {}),
  });
  cached = { key, gateway };
  return gateway;
}

/** A JSON var or secret, checked for its shape; a bad one fails every request with its name, never with its value. */
function parse<T>(name: string, text: string | undefined, valid: (value: unknown) => boolean): T | undefined {
  if (!text) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError(`${name} is not JSON`);
  }
  if (!valid(value)) throw new TypeError(`${name} does not have the documented shape`);
  return value as T;
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return gatewayFor(env).fetch(request, { clientAddress: request.headers.get("cf-connecting-ip") ?? "unknown" });
  },
};
