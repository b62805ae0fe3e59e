import { createDestinationPolicy, guardConnect, isSockkitError } from "@sockkit/core";
import { subscribed, tracingOf } from "@sockkit/core/adapter";
import type { Call, CallRecord, GatewayContext, Route } from "./context.js";
import { readAllow } from "./allow.js";
import { HttpError, errorResponse } from "./http.js";
import { resolveLimits, type Gateway, type GatewayOptions, type RequestInfo } from "./options.js";
import { createAccess, type Grant } from "./policy/access.js";
import { createCommandPolicy } from "./policy/commands.js";
import { createTopicPolicy } from "./policy/topics.js";
import { ROUTES } from "./routes/index.js";
import { Slots } from "./slots.js";
import { GatewayMetrics } from "./telemetry/gateway-metrics.js";
import { consoleLogger, requestIdOf, type RequestLogEntry } from "./telemetry/request-log.js";

/**
 * The gateway as one `fetch` handler: the same in a Worker and on Node.
 * Every destination passes the destination policy before any byte leaves.
 */
export function createGateway(options: GatewayOptions): Gateway {
  if (typeof options?.connect !== "function") throw new TypeError("createGateway() needs a connect function");
  const limits = resolveLimits(options.limits);
  const allow = readAllow(options.allow ?? []);
  const publicPorts = [...(options.publicPorts ?? [6379, 1883, 8883])];
  const policy = options.policy ?? createDestinationPolicy({ publicOnly: true, allow: allow.rules, publicPorts });
  const guarded = guardConnect(options.connect, policy, options.guard);
  const metrics = new GatewayMetrics();
  const context: GatewayContext = {
    options,
    limits,
    policy,
    connects: {
      redis: metrics.counting(guarded, "redis"),
      mqtt: metrics.counting(guarded, "mqtt"),
      tcp: metrics.counting(guarded, "tcp"),
    },
    metrics,
    slots: new Slots(limits.maxConcurrentPerClient),
    access: createAccess(options),
    destinations: options.policy ? [] : allow.listed,
    publicPorts: options.policy ? [] : publicPorts,
  };
  const log = options.log === undefined ? consoleLogger : options.log;
  const byPath = new Map<string, Route[]>();
  for (const route of ROUTES) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
  const cors: Record<string, string> = options.corsOrigin
    ? {
        "access-control-allow-origin": options.corsOrigin,
        "access-control-allow-headers": "authorization, content-type, x-request-id",
        "access-control-allow-methods": "GET, POST, OPTIONS",
        "access-control-expose-headers": "x-request-id",
      }
    : {};

  const dispatch = async (request: Request, url: URL, client: string, record: CallRecord): Promise<Response> => {
    const candidates = byPath.get(url.pathname);
    const route = candidates?.find((r) => r.method === request.method);
    if (candidates) record.route = url.pathname;
    const grant = context.access.authenticate(request.headers.get("authorization"));
    if (grant) record.caller = grant.name;
    if (!route?.public && grant === undefined)
      throw new HttpError(401, "EUNAUTHORIZED", "a valid Authorization: Bearer token is required");
    if (!candidates) throw new HttpError(404, "ENOTFOUND", `no route ${request.method} ${url.pathname}`);
    if (!route) throw new HttpError(405, "EMETHOD", `use ${candidates.map((r) => r.method).join(" or ")}`);
    const call: Call = { request, url, client, grant: grant ?? PUBLIC, context, record };
    return route.handle(call);
  };

  // sockkit:gateway:request, when the host's connect carries node:diagnostics_channel (core's README, "Tracing").
  const tracing = tracingOf(options.connect)?.gatewayRequest;

  const serve = async (request: Request, info: RequestInfo | undefined, record: CallRecord): Promise<Response> => {
    const started = Date.now();
    const { requestId } = record;
    const url = new URL(request.url);
    const client = info?.clientAddress ?? request.headers.get("cf-connecting-ip") ?? "unknown";
    let response: Response;
    let failure: { code: string; reason?: string } | undefined;
    if (request.method === "OPTIONS" && options.corsOrigin) {
      record.route = byPath.has(url.pathname) ? url.pathname : "unmatched";
      response = new Response(null, { status: 204, headers: cors });
    } else {
      try {
        response = await dispatch(request, url, client, record);
      } catch (error) {
        response = errorResponse(error);
        failure = failureOf(error);
        // A 5xx is the gateway's or an upstream's failure: tracers hear of it as an error.
        if (response.status >= 500 && subscribed(tracing)) {
          record.error = error;
          tracing.error?.publish?.(record);
        }
      }
    }
    record.status = response.status;
    for (const [name, value] of Object.entries(cors)) response.headers.set(name, value);
    response.headers.set("x-request-id", requestId);
    const method = ["GET", "POST", "OPTIONS", "HEAD"].includes(request.method) ? request.method : "other";
    metrics.requests.inc({ route: record.route, method, status: String(response.status) });
    const denial = failure && GatewayMetrics.denialReason(failure.code);
    if (denial) metrics.denials.inc({ reason: denial });
    if (log) {
      const entry: RequestLogEntry = {
        time: new Date(started).toISOString(),
        level: response.status >= 500 ? "error" : response.status >= 400 ? "warn" : "info",
        msg: "request",
        requestId,
        method: request.method,
        route: record.route,
        status: response.status,
        durationMs: Date.now() - started,
        ...(record.caller !== undefined ? { caller: record.caller } : {}),
        client,
        ...(record.upstream !== undefined ? { upstream: record.upstream } : {}),
        ...(record.command !== undefined ? { command: record.command } : {}),
        ...(failure ? { error: failure.code } : {}),
        ...(failure?.reason !== undefined && denial !== "destination" ? { reason: failure.reason } : {}),
      };
      try {
        log(entry);
      } catch {
        // A failing logger must not fail the request it reports.
      }
    }
    return response;
  };

  return {
    fetch(request, info) {
      const record: CallRecord = { requestId: requestIdOf(request), method: request.method, route: "unmatched" };
      // With nobody subscribed, no event is built.
      if (subscribed(tracing)) return tracing.tracePromise(() => serve(request, info, record), record);
      return serve(request, info, record);
    },
  };
}

/** The error code (and a policy's reason) of a failed request, for the log line and the denial metric. */
function failureOf(error: unknown): { code: string; reason?: string } {
  if (error instanceof HttpError) return { code: error.code, ...(error.reason ? { reason: error.reason } : {}) };
  if (isSockkitError(error)) return { code: error.code };
  return { code: error instanceof TypeError ? "EBADREQUEST" : "EINTERNAL" };
}

/** The public routes' caller when it sent no valid token: it may do nothing upstream. */
const PUBLIC: Grant = {
  name: "public",
  commands: createCommandPolicy("-@all"),
  publish: createTopicPolicy([]),
  subscribe: createTopicPolicy([]),
};
