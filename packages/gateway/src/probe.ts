// The probes, shared by the gateway's GET /probe/* and the CLI's `sockkit probe`: connect, run the
// protocol's smallest exchange, measure, and close whatever was opened, also on failure.
import { connectWithTimeout, type Connect } from "@sockkit/core";
import { asConnectError } from "@sockkit/core/adapter";
import { createMqttClient } from "@sockkit/core/mqtt";
import { createRedisClient } from "@sockkit/core/redis";

export type ProbeKind = "redis" | "mqtt" | "tcp";

/** What to probe. */
export interface ProbeTarget {
  /** As `connect` takes it: an IPv6 literal in brackets. */
  hostname: string;
  port: number;
  /** @default false */
  tls?: boolean;
  /** Redis ACL user or MQTT user name. @default none */
  username?: string;
  /** Redis or MQTT password. @default none */
  password?: string;
}

export interface ProbeOptions {
  /** Connecting and the handshake, in milliseconds. @default 5000 */
  connectTimeoutMs?: number;
  /** The exchange after connecting (Redis `PING`), in milliseconds. @default 10000 */
  operationTimeoutMs?: number;
  /** TCP only: read the first bytes the server sends (at most 1 KiB, waiting at most 1 s). @default false */
  banner?: boolean;
}

/** A probe that succeeded. Failures reject with sockkit's typed errors (`ECONNECT`, `ETIMEDOUT`…). */
export interface ProbeResult {
  ok: true;
  /** From the start of the connection to the answer, in milliseconds. */
  latencyMs: number;
  /** Redis: `{ reply, protocol }`; MQTT: `{ returnCode, sessionPresent }`; TCP: `{ banner? }`. */
  detail: Record<string, unknown>;
}

/** Probes `target` with `kind`'s smallest exchange: Redis `PING`, MQTT CONNECT/CONNACK, or a TCP connection. */
export async function probe(
  kind: ProbeKind,
  connect: Connect,
  target: ProbeTarget,
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const operationTimeoutMs = options.operationTimeoutMs ?? 10_000;
  const address = { hostname: target.hostname, port: target.port };
  const credentials = {
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
  };
  const started = Date.now();
  if (kind === "redis") {
    // A PING needs a tiny reply: a server that claims a large one is refused early.
    const redis = createRedisClient({
      connect,
      address,
      tls: target.tls ?? false,
      ...credentials,
      connectTimeoutMs,
      commandTimeoutMs: operationTimeoutMs,
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
      address,
      tls: target.tls ?? false,
      ...credentials,
      connectTimeoutMs,
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
  const socket = await openSocket(connect, address, target.tls ?? false, connectTimeoutMs);
  try {
    const latencyMs = Date.now() - started;
    const banner = options.banner ? await readBanner(socket.readable, 1000, 1024) : undefined;
    return { ok: true, latencyMs, detail: banner === undefined ? {} : { banner } };
  } finally {
    await socket.close().catch(() => {});
  }
}

/** Connects within `timeoutMs`; the runtime's code-less failures (workerd's "proxy request failed") become ECONNECT. */
export async function openSocket(
  connect: Connect,
  address: { hostname: string; port: number },
  tls: boolean,
  timeoutMs: number,
) {
  try {
    return await connectWithTimeout(connect, address, tls ? { secureTransport: "on" } : undefined, { timeoutMs });
  } catch (error) {
    throw asConnectError(error, `${address.hostname}:${address.port}`);
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
