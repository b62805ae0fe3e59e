import type { Connect, DestinationPolicy, GuardOptions } from "@sockkit/core";
import type { AllowEntry } from "./allow.js";
import type { AccessPolicy, TokenGrant } from "./policy/access.js";
import type { RequestLogger } from "./telemetry/request-log.js";

/** Limits, each with its default. */
export interface GatewayLimits {
  /** Connecting (and the protocol handshake), in milliseconds. @default 5000 */
  connectTimeoutMs?: number;
  /** One upstream operation after connecting (a command, a publish flow), in milliseconds. @default 10000 */
  operationTimeoutMs?: number;
  /** Largest JSON request body, in bytes. @default 65536 */
  maxBodyBytes?: number;
  /** Largest upstream reply relayed (`POST /tcp`, a Redis reply), in bytes. @default 1048576 */
  maxResponseBytes?: number;
  /** Upstream connections one client may hold at once; past it, 429. @default 4 */
  maxConcurrentPerClient?: number;
  /** The longest a `POST /tcp` relay may last, in milliseconds; then the upstream is closed. @default 30000 */
  relayTimeoutMs?: number;
  /** The longest a `GET /mqtt/subscribe` stream may last, in milliseconds (a caller may ask for less). @default 60000 */
  subscribeMaxMs?: number;
  /** The most messages one `GET /mqtt/subscribe` stream relays (a caller may ask for fewer). @default 1000 */
  subscribeMaxMessages?: number;
}

/** Options for {@link createGateway}. */
export interface GatewayOptions {
  /** `connect` from `cloudflare:sockets` or `@sockkit/adapter-node`. */
  connect: Connect;
  /**
   * Destinations named by the operator (exact hosts, addresses, CIDRs, with ports).
   * They are the only ones `POST /redis` and `POST /tcp` reach, and they may be
   * private. Everything else must be public and on `publicPorts`. `protocol` and `name` say what
   * each is for the page and `GET /destinations`.
   * @default []
   */
  allow?: ReadonlyArray<string | AllowEntry>;
  /** Ports public destinations may use (probes and MQTT publish). @default [6379, 1883, 8883] */
  publicPorts?: ReadonlyArray<number | string>;
  /** A policy of your own instead of `allow`/`publicPorts`. */
  policy?: DestinationPolicy;
  /** Passed to `guardConnect` (e.g. `unresolvedNames: "allow"` with the runtime's bare connect on Workers). */
  guard?: GuardOptions;
  limits?: GatewayLimits;
  /**
   * Require `Authorization: Bearer <token>` on every API route; the caller gets `access`.
   * @default no token (unless `tokens` names some)
   */
  token?: string;
  /**
   * Several bearer tokens, each with its own command rules and topic filters (what one leaves out
   * comes from `access`). With `token`, `tokens` or both, every API route needs one of them.
   * @default []
   */
  tokens?: readonly TokenGrant[];
  /**
   * What callers may do: Redis command rules (default: no `@admin`, `@dangerous` or `@scripting`
   * commands) and MQTT topic filters (default: every topic). Applies to `token`, to callers when no
   * token is configured, and to what a `tokens` entry leaves out.
   * @default {}
   */
  access?: AccessPolicy;
  /** Send CORS headers for this origin (`"*"` for any). @default none */
  corsOrigin?: string;
  /**
   * Receives one entry per request (request id, route, status, caller, upstream, duration; never a
   * token, a Redis argument, a password or a payload); `false` for none.
   * @default one JSON line per request through `console.log`
   */
  log?: RequestLogger;
}

/** Per-request information the host adds: who the client is, for the concurrency cap. */
export interface RequestInfo {
  /** The client's address. @default the `cf-connecting-ip` header, else "unknown" */
  clientAddress?: string;
}

export interface Gateway {
  fetch(request: Request, info?: RequestInfo): Promise<Response>;
}

export type ResolvedLimits = Required<GatewayLimits>;

export function resolveLimits(limits: GatewayLimits = {}): ResolvedLimits {
  return {
    connectTimeoutMs: limits.connectTimeoutMs ?? 5000,
    operationTimeoutMs: limits.operationTimeoutMs ?? 10_000,
    maxBodyBytes: limits.maxBodyBytes ?? 64 * 1024,
    maxResponseBytes: limits.maxResponseBytes ?? 1024 * 1024,
    maxConcurrentPerClient: limits.maxConcurrentPerClient ?? 4,
    relayTimeoutMs: limits.relayTimeoutMs ?? 30_000,
    subscribeMaxMs: limits.subscribeMaxMs ?? 60_000,
    subscribeMaxMessages: limits.subscribeMaxMessages ?? 1000,
  };
}
