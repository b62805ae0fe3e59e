import type { Connect, DestinationPolicy } from "@sockkit/core";
import type { ListedDestination } from "./allow.js";
import type { GatewayOptions, ResolvedLimits } from "./options.js";
import type { Access, Grant } from "./policy/access.js";
import type { Protocol } from "./target.js";
import type { GatewayMetrics } from "./telemetry/gateway-metrics.js";
import type { Slots } from "./slots.js";

/** What every route shares: built once by createGateway. */
export interface GatewayContext {
  readonly options: GatewayOptions;
  readonly limits: ResolvedLimits;
  readonly policy: DestinationPolicy;
  /** The runtime's connect behind the destination policy, counting open connections per protocol. */
  readonly connects: Readonly<Record<Protocol, Connect>>;
  readonly metrics: GatewayMetrics;
  readonly slots: Slots;
  readonly access: Access;
  /** The allow list as GET /destinations shows it (empty with a policy of the operator's own). */
  readonly destinations: readonly ListedDestination[];
  readonly publicPorts: ReadonlyArray<number | string>;
}

/** One request as a route sees it. */
export interface Call {
  readonly request: Request;
  readonly url: URL;
  /** Who the client is, for the concurrency cap. */
  readonly client: string;
  /** What the caller's token (or the gateway, without tokens) allows. */
  readonly grant: Grant;
  readonly context: GatewayContext;
  /** What the request log line and the tracing event say about it, filled in as it goes. */
  readonly record: CallRecord;
}

/**
 * What a route learns that the log line, the metrics and the tracing event report. It is the
 * context object of the `sockkit:gateway:request` TracingChannel: filled in as the request goes.
 */
export interface CallRecord {
  /** The request's x-request-id (its own, or one the gateway made). */
  requestId: string;
  method: string;
  /** The route template, or "unmatched". */
  route: string;
  /** The response's status, once known (set before asyncEnd). */
  status?: number;
  /** What failed, for a 5xx (set before the error event). */
  error?: unknown;
  /** The name of the token that matched. */
  caller?: string;
  /** `redis://host:port`, once the route knows its destination. */
  upstream?: string;
  /** The Redis command's name, when Redis's table knows it. */
  command?: string;
}

/** One entry of the route table. */
export interface Route {
  readonly method: "GET" | "POST";
  /** The exact path. */
  readonly path: string;
  /** Served without a token (the page, /health). @default false */
  readonly public?: boolean;
  handle(call: Call): Promise<Response>;
}
