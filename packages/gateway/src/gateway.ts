import {
  connectWithTimeout,
  createDestinationPolicy,
  guardConnect,
  pipeToSocket,
  TooLargeError,
  toResponse,
  type Connect,
  type DestinationPolicy,
  type DestinationRule,
  type GuardOptions,
} from "@sockkit/core";
import { asConnectError } from "@sockkit/core/adapter";
import { createMqttClient, type QoS } from "@sockkit/core/mqtt";
import { createRedisClient, type RespValue } from "@sockkit/core/redis";
import { HttpError, badRequest, errorResponse, json, readJson } from "./http.js";
import { PAGE } from "./page.js";

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
}

/** Options for {@link createGateway}. */
export interface GatewayOptions {
  /** `connect` from `cloudflare:sockets` or `@sockkit/adapter-node`. */
  connect: Connect;
  /**
   * Destinations named by the operator (exact hosts, addresses, CIDRs, with ports).
   * They are the only ones `POST /redis` and `POST /tcp` reach, and they may be
   * private. Everything else must be public and on `publicPorts`.
   * @default []
   */
  allow?: ReadonlyArray<string | DestinationRule>;
  /** Ports public destinations may use (probes and MQTT publish). @default [6379, 1883, 8883] */
  publicPorts?: ReadonlyArray<number | string>;
  /** A policy of your own instead of `allow`/`publicPorts`. */
  policy?: DestinationPolicy;
  /** Passed to `guardConnect` (e.g. `unresolvedNames: "allow"` with the runtime's bare connect on Workers). */
  guard?: GuardOptions;
  limits?: GatewayLimits;
  /** Require `Authorization: Bearer <token>` on every API route. @default no auth */
  token?: string;
  /** Send CORS headers for this origin (`"*"` for any). @default none */
  corsOrigin?: string;
}

/** Per-request information the host adds: who the client is, for the concurrency cap. */
export interface RequestInfo {
  /** The client's address. @default the `cf-connecting-ip` header, else "unknown" */
  clientAddress?: string;
}

export interface Gateway {
  fetch(request: Request, info?: RequestInfo): Promise<Response>;
}

const DEFAULT_PORTS: Record<"redis" | "mqtt" | "tcp", number | undefined> = { redis: 6379, mqtt: 1883, tcp: undefined };

/**
 * The gateway as one `fetch` handler: the same in a Worker and on Node.
 * Every destination passes the destination policy before any byte leaves.
 */
export function createGateway(options: GatewayOptions): Gateway {
  if (typeof options?.connect !== "function") throw new TypeError("createGateway() needs a connect function");
  const limits = {
    connectTimeoutMs: options.limits?.connectTimeoutMs ?? 5000,
    operationTimeoutMs: options.limits?.operationTimeoutMs ?? 10_000,
    maxBodyBytes: options.limits?.maxBodyBytes ?? 64 * 1024,
    maxResponseBytes: options.limits?.maxResponseBytes ?? 1024 * 1024,
    maxConcurrentPerClient: options.limits?.maxConcurrentPerClient ?? 4,
    relayTimeoutMs: options.limits?.relayTimeoutMs ?? 30_000,
  };
  const policy =
    options.policy ??
    createDestinationPolicy({
      publicOnly: true,
      allow: options.allow ?? [],
      publicPorts: [...(options.publicPorts ?? [6379, 1883, 8883])],
    });
  const connect = guardConnect(options.connect, policy, options.guard);
  const active = new Map<string, number>();
  const cors: Record<string, string> = options.corsOrigin
    ? {
        "access-control-allow-origin": options.corsOrigin,
        "access-control-allow-headers": "authorization, content-type",
        "access-control-allow-methods": "GET, POST, OPTIONS",
      }
    : {};

  /** Named destinations only: refuses one that is merely public. */
  const requireAllowlisted = (host: string, port: number, route: string) => {
    const decision = policy.check(host, port);
    if (decision.allowed && decision.rule === "publicOnly") {
      throw new HttpError(
        403,
        "EDESTINATION_DENIED",
        `${route} only reaches destinations named in the gateway's allow list`,
      );
    }
  };

  /** Takes one of the client's upstream slots (429 when none is left); returns the idempotent release. */
  const takeSlot = (client: string): (() => void) => {
    const used = active.get(client) ?? 0;
    if (used >= limits.maxConcurrentPerClient)
      throw new HttpError(
        429,
        "ETOOMANY",
        `at most ${limits.maxConcurrentPerClient} upstream connections per client at once`,
      );
    active.set(client, used + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (active.get(client) ?? 1) - 1;
      if (left === 0) active.delete(client);
      else active.set(client, left);
    };
  };

  const withSlot = async <T>(client: string, run: () => Promise<T>): Promise<T> => {
    const release = takeSlot(client);
    try {
      return await run();
    } finally {
      release();
    }
  };

  const routes = async (request: Request, url: URL, client: string): Promise<Response> => {
    const path = url.pathname;
    if (path === "/" && request.method === "GET")
      return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (path === "/health") return json({ ok: true });
    if (options.token !== undefined && !bearerMatches(request.headers.get("authorization"), options.token)) {
      throw new HttpError(401, "EUNAUTHORIZED", "a valid Authorization: Bearer token is required");
    }
    const probe = /^\/probe\/(redis|mqtt|tcp)$/.exec(path);
    if (probe) {
      if (request.method !== "GET") throw new HttpError(405, "EMETHOD", "use GET");
      const kind = probe[1] as "redis" | "mqtt" | "tcp";
      const target = destination(Object.fromEntries(url.searchParams), kind);
      return json(await withSlot(client, () => runProbe(kind, target, url.searchParams)));
    }
    if (path === "/redis" || path === "/mqtt/publish" || path === "/tcp") {
      if (request.method !== "POST") throw new HttpError(405, "EMETHOD", "use POST");
    }
    if (path === "/redis") {
      const body = await readJson(request, limits.maxBodyBytes);
      const target = destination(body, "redis");
      const command = body.command;
      if (
        !Array.isArray(command) ||
        command.length === 0 ||
        command.some((a) => typeof a !== "string" && typeof a !== "number")
      ) {
        throw badRequest("command", 'command must be a non-empty array of strings and numbers, e.g. ["GET", "key"]');
      }
      requireAllowlisted(target.host, target.port, "POST /redis");
      return json(await withSlot(client, () => runRedis(target, body, command as Array<string | number>)));
    }
    if (path === "/mqtt/publish") {
      const body = await readJson(request, limits.maxBodyBytes);
      const target = destination(body, "mqtt");
      return json(await withSlot(client, () => runPublish(target, body)));
    }
    if (path === "/tcp") {
      const target = destination(Object.fromEntries(url.searchParams), "tcp");
      requireAllowlisted(target.host, target.port, "POST /tcp");
      // The slot is held for the whole relay, not just until the response starts.
      const release = takeSlot(client);
      try {
        return await runTcp(target, request, release);
      } catch (error) {
        release();
        throw error;
      }
    }
    throw new HttpError(404, "ENOTFOUND", `no route ${request.method} ${path}`);
  };

  /** Connects; the runtime's code-less failures (workerd's "proxy request failed") become ECONNECT. */
  async function open(target: Target) {
    try {
      return await connectWithTimeout(connect, at(target), target.tls ? { secureTransport: "on" } : undefined, {
        timeoutMs: limits.connectTimeoutMs,
      });
    } catch (error) {
      throw asConnectError(error, `${target.host}:${target.port}`);
    }
  }

  async function runProbe(kind: "redis" | "mqtt" | "tcp", target: Target, params: URLSearchParams) {
    const started = Date.now();
    if (kind === "redis") {
      // A PING needs a tiny reply: a server that claims a large one is refused early.
      const redis = createRedisClient({
        connect,
        address: at(target),
        tls: target.tls,
        connectTimeoutMs: limits.connectTimeoutMs,
        commandTimeoutMs: limits.operationTimeoutMs,
        maxBulkLength: 4096,
        maxAggregateLength: 64,
        maxDepth: 4,
      });
      try {
        const pong = await redis.ping();
        return { ok: true, latencyMs: Date.now() - started, detail: { reply: pong, protocol: redis.protocol } };
      } finally {
        redis.destroy();
      }
    }
    if (kind === "mqtt") {
      const mqtt = createMqttClient({
        connect,
        address: at(target),
        tls: target.tls,
        connectTimeoutMs: limits.connectTimeoutMs,
        keepalive: 0,
      });
      try {
        const connack = await mqtt.connect();
        return {
          ok: true,
          latencyMs: Date.now() - started,
          detail: { returnCode: 0, sessionPresent: connack.sessionPresent },
        };
      } finally {
        await mqtt.end({ timeoutMs: 1000 });
      }
    }
    const socket = await open(target);
    try {
      const latencyMs = Date.now() - started;
      let banner: string | undefined;
      if (params.get("banner") === "1" || params.get("banner") === "true")
        banner = await readBanner(socket.readable, 1000, 1024);
      return { ok: true, latencyMs, detail: banner === undefined ? {} : { banner } };
    } finally {
      await socket.close().catch(() => {});
    }
  }

  async function runRedis(target: Target, body: Record<string, unknown>, command: Array<string | number>) {
    const started = Date.now();
    const redis = createRedisClient({
      connect,
      address: at(target),
      tls: target.tls,
      ...(typeof body.password === "string" ? { password: body.password } : {}),
      ...(typeof body.username === "string" ? { username: body.username } : {}),
      ...(typeof body.db === "number" ? { db: body.db } : {}),
      connectTimeoutMs: limits.connectTimeoutMs,
      commandTimeoutMs: limits.operationTimeoutMs,
      maxBulkLength: limits.maxResponseBytes,
      maxAggregateLength: Math.max(16, Math.floor(limits.maxResponseBytes / 8)),
    });
    try {
      const reply = body.binary === true ? await redis.sendBuffer(...command) : await redis.send(...command);
      const result = { ok: true, latencyMs: Date.now() - started, reply: toJson(reply) };
      // The cap is on the whole reply, not each string in it.
      if (JSON.stringify(result).length > limits.maxResponseBytes) {
        throw new TooLargeError(`the reply is larger than ${limits.maxResponseBytes} bytes`, limits.maxResponseBytes);
      }
      return result;
    } finally {
      redis.destroy();
    }
  }

  async function runPublish(target: Target, body: Record<string, unknown>) {
    const topic = body.topic;
    if (typeof topic !== "string" || topic === "") throw badRequest("topic", "topic must be a non-empty string");
    const qos = body.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw badRequest("qos", "qos must be 0, 1 or 2");
    if (body.retain !== undefined && typeof body.retain !== "boolean")
      throw badRequest("retain", "retain must be a boolean");
    let payload: string | Uint8Array;
    if (typeof body.payloadBase64 === "string") payload = fromBase64(body.payloadBase64, "payloadBase64");
    else if (typeof body.payload === "string") payload = body.payload;
    else throw badRequest("payload", "payload (a string) or payloadBase64 is required");
    const version = body.protocolVersion ?? 4;
    if (version !== 4 && version !== 5) throw badRequest("protocolVersion", "protocolVersion must be 4 or 5");
    const started = Date.now();
    const mqtt = createMqttClient({
      connect,
      address: at(target),
      tls: target.tls,
      protocolVersion: version,
      keepalive: 0,
      connectTimeoutMs: limits.connectTimeoutMs,
      ...(typeof body.username === "string" ? { username: body.username } : {}),
      ...(typeof body.password === "string" ? { password: body.password } : {}),
    });
    try {
      await withTimeout(
        mqtt.publish(topic, payload, { qos: qos as QoS, retain: body.retain === true }),
        limits.operationTimeoutMs,
        "the publish flow",
      );
      return { ok: true, latencyMs: Date.now() - started, qos };
    } finally {
      await mqtt.end({ timeoutMs: 1000 });
    }
  }

  async function runTcp(target: Target, request: Request, release: () => void): Promise<Response> {
    const socket = await open(target);
    // The whole relay has a deadline; when the socket closes, for any reason, the slot is free.
    const deadline = setTimeout(() => void socket.close().catch(() => {}), limits.relayTimeoutMs);
    const done = () => {
      clearTimeout(deadline);
      release();
    };
    socket.closed.then(done, done);
    // Past maxResponseBytes the relay stops and the socket closes: the client sees a cut body.
    void pipeToSocket(limitBody(request.body, limits.maxBodyBytes), socket).catch(() => socket.close().catch(() => {}));
    const relayed = toResponse(socket).body!;
    let seen = 0;
    const capped = relayed.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.length;
          // Erroring cancels the relay, which closes the socket.
          if (seen > limits.maxResponseBytes)
            controller.error(
              new TooLargeError(
                `the upstream sent more than ${limits.maxResponseBytes} bytes`,
                limits.maxResponseBytes,
              ),
            );
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(capped, { headers: { "content-type": "application/octet-stream" } });
  }

  return {
    async fetch(request, info) {
      const url = new URL(request.url);
      if (request.method === "OPTIONS" && options.corsOrigin) return new Response(null, { status: 204, headers: cors });
      const client = info?.clientAddress ?? request.headers.get("cf-connecting-ip") ?? "unknown";
      let response: Response;
      try {
        response = await routes(request, url, client);
      } catch (error) {
        response = errorResponse(error);
      }
      for (const [name, value] of Object.entries(cors)) response.headers.set(name, value);
      return response;
    },
  };
}

interface Target {
  host: string;
  port: number;
  tls: boolean;
}

function destination(source: Record<string, unknown>, kind: "redis" | "mqtt" | "tcp"): Target {
  const host = source.host;
  if (typeof host !== "string" || host === "") throw badRequest("host", "host is required");
  if (host.length > 255) throw badRequest("host", "host is longer than 255 characters");
  const rawPort = source.port ?? DEFAULT_PORTS[kind];
  const port = typeof rawPort === "string" && /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : rawPort;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
    throw badRequest("port", "port must be an integer from 1 to 65535");
  const tls = source.tls === true || source.tls === "true" || source.tls === "1";
  if (source.tls !== undefined && !tls && source.tls !== false && source.tls !== "false" && source.tls !== "0")
    throw badRequest("tls", "tls must be true or false");
  return { host, port, tls };
}

function at(target: Target): { hostname: string; port: number } {
  return {
    hostname: target.host.includes(":") && !target.host.startsWith("[") ? `[${target.host}]` : target.host,
    port: target.port,
  };
}

function bearerMatches(header: string | null, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "";
  // Compare in constant time for equal lengths.
  let diff = given.length ^ token.length;
  for (let i = 0; i < token.length; i++) diff |= token.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  return diff === 0;
}

/** A Redis reply as JSON: bytes as `{ base64 }`, maps as objects, bigints as strings, errors as `{ error }`. */
function toJson(value: RespValue): unknown {
  if (value instanceof Uint8Array) return { base64: toBase64(value) };
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (value instanceof Map)
    return Object.fromEntries(
      [...value].map(([k, v]) => [String(k instanceof Uint8Array ? toBase64(k) : k), toJson(v)]),
    );
  if (value instanceof Set) return [...value].map(toJson);
  if (Array.isArray(value)) return value.map(toJson);
  if (value instanceof Error) return { error: value.message };
  return value;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string, field: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    throw badRequest(field, `${field} is not valid base64`);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(504, "ETIMEDOUT", `${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function readBanner(readable: ReadableStream<Uint8Array>, waitMs: number, maxBytes: number): Promise<string> {
  const reader = readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((resolve) => {
        timer = setTimeout(() => resolve({ done: true, value: undefined }), waitMs);
      }),
    ]);
    return first.value ? new TextDecoder().decode(first.value.subarray(0, maxBytes)) : "";
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
}

/** The request body, erroring past `maxBytes` so the relay stops. */
function limitBody(body: ReadableStream<Uint8Array> | null, maxBytes: number): ReadableStream<Uint8Array> | null {
  if (body === null) return null;
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > maxBytes)
          controller.error(new TooLargeError(`the request body is larger than ${maxBytes} bytes`, maxBytes));
        else controller.enqueue(chunk);
      },
    }),
  );
}
