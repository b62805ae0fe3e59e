// One structured log line per request. What it never holds: the bearer token, Redis arguments,
// passwords, payloads, topics, query strings.

/** One request, as logged. */
export interface RequestLogEntry {
  /** ISO 8601. */
  time: string;
  /** "info" below 400, "warn" for 4xx, "error" for 5xx. */
  level: "info" | "warn" | "error";
  msg: "request";
  /** The request's `x-request-id`, or the one the gateway made. */
  requestId: string;
  method: string;
  /** The route template (`/probe/redis`), or "unmatched". */
  route: string;
  status: number;
  /** From the request's arrival to the response's headers, in milliseconds. */
  durationMs: number;
  /** The token's name ("anonymous" without tokens; absent when none matched). */
  caller?: string;
  /** The client's address, as the host gave it. */
  client: string;
  /** `redis://host:port`, `mqtt://…`, `tcp://…`: where the request went (or would have gone). */
  upstream?: string;
  /** The Redis command's name when Redis's table knows it (`FLUSHALL`, `CLIENT KILL`); never its arguments. */
  command?: string;
  /** The error code of a failed request (`ECOMMAND_DENIED`, `ETIMEDOUT`…). */
  error?: string;
  /** Why a policy refused, when it says (the Redis rule, the topic filter list). */
  reason?: string;
}

/** Where log lines go: a function, or `false` for none. */
export type RequestLogger = ((entry: RequestLogEntry) => void) | false;

/** The default: one JSON line per request on the console (stdout on Node, Workers Logs on Workers). */
export const consoleLogger = (entry: RequestLogEntry): void => console.log(JSON.stringify(entry));

// Letters, digits and a few separators, as ids from load balancers, tracing systems and UUIDs use.
const REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,128}$/;

/** The caller's `x-request-id` when it is 1 to 128 safe characters, else a new random UUID. */
export function requestIdOf(request: Request): string {
  const given = request.headers.get("x-request-id");
  return given !== null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
