// sockkit's tracing channels: Node's TracingChannel (start, end, asyncStart, asyncEnd, error) on the
// `node:diagnostics_channel` a connect carries as a capability. APM tools (dd-trace, OpenTelemetry
// instrumentations) subscribe to channels like these; with nobody subscribed, nothing is built.
import { diagnosticsChannel, type TraceableConnect } from "./capabilities.js";
import type { Connect } from "./types.js";

/** The names sockkit publishes under (each a TracingChannel: `tracing:<name>:start`, …). */
export const TRACING_CHANNELS = {
  /** A socket opened by a client or a pattern. Context: {@link ConnectTrace}. */
  connect: "sockkit:connect",
  /** A Redis command, or a pipeline or transaction as one batch. Context: {@link RedisCommandTrace}. */
  redisCommand: "sockkit:redis:command",
  /** An MQTT connection attempt, to CONNACK and the session resumed. Context: {@link MqttConnectTrace}. */
  mqttConnect: "sockkit:mqtt:connect",
  /** An MQTT publish, to the end of its QoS flow. Context: {@link MqttPublishTrace}. */
  mqttPublish: "sockkit:mqtt:publish",
  /** A request to the gateway. Context: the gateway's README. */
  gatewayRequest: "sockkit:gateway:request",
} as const;

/** `sockkit:connect` */
export interface ConnectTrace {
  /** `host:port` as dialled. */
  address: string;
  hostname: string;
  port: number;
  /** `"off"`, `"on"` or `"starttls"`. */
  secureTransport: string;
  /**
   * 1 for the first attempt to connect (at first, or after a connection was lost), then one more
   * for each failed attempt in a row (a retry).
   */
  attempt: number;
  /** Set when the error event is published. */
  error?: unknown;
}

/** `sockkit:redis:command` */
export interface RedisCommandTrace {
  /** The command's name as sent (`GET`, `CLIENT`), or `MULTI` / `PIPELINE` for a batch. */
  command: string;
  /**
   * The command's arguments after its name: only with the client's `traceArguments` option. `AUTH`,
   * `HELLO`, `ACL`, `CONFIG` and `MIGRATE` never carry theirs.
   */
  args?: readonly unknown[];
  /** Commands in a pipeline or transaction (absent for one command). */
  batchSize?: number;
  serverAddress: string;
  serverPort: number;
  /** The database index (`SELECT`), 0 by default. */
  database: number;
  error?: unknown;
  result?: unknown;
}

/** `sockkit:mqtt:connect` */
export interface MqttConnectTrace {
  serverAddress: string;
  serverPort: number;
  clientId: string;
  protocolVersion: 4 | 5;
  /** As {@link ConnectTrace.attempt}: 1 at first and after a lost connection, one more per failed attempt. */
  attempt: number;
  error?: unknown;
  result?: unknown;
}

/** `sockkit:mqtt:publish`: never the payload. */
export interface MqttPublishTrace {
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** Bytes of payload. */
  payloadSize: number;
  /** Set once the message has its packet identifier (QoS 1 and 2), before the flow ends. */
  packetId?: number;
  clientId: string;
  serverAddress: string;
  serverPort: number;
  error?: unknown;
  result?: unknown;
}

interface Channel {
  readonly hasSubscribers: boolean;
  publish?(message: unknown): void;
}

/** What sockkit uses of a TracingChannel (Node's, workerd's, or a polyfill's). */
export interface TracingChannelLike {
  /** Node 20.13+; where absent, the five channels are asked. */
  readonly hasSubscribers?: boolean;
  readonly start?: Channel;
  readonly end?: Channel;
  readonly asyncStart?: Channel;
  readonly asyncEnd?: Channel;
  readonly error?: Channel;
  tracePromise<T>(fn: () => Promise<T>, context?: object): Promise<T>;
}

/** What sockkit uses of `node:diagnostics_channel`. */
export interface DiagnosticsChannels {
  tracingChannel(name: string): TracingChannelLike;
}

export type Tracing = { readonly [K in keyof typeof TRACING_CHANNELS]: TracingChannelLike };

const cache = new WeakMap<DiagnosticsChannels, Tracing>();

/** The tracing channels of `connect`'s runtime, or undefined when it carries none. Made once per runtime. */
export function tracingOf(connect: Connect): Tracing | undefined {
  const channels = (connect as TraceableConnect)[diagnosticsChannel];
  if (channels === undefined || typeof channels.tracingChannel !== "function") return undefined;
  let tracing = cache.get(channels);
  if (tracing === undefined) {
    const made: Record<string, TracingChannelLike> = {};
    for (const [key, name] of Object.entries(TRACING_CHANNELS)) made[key] = channels.tracingChannel(name);
    tracing = made as Tracing;
    cache.set(channels, tracing);
  }
  return tracing;
}

/** Whether anyone listens on `channel` (cheap: what the hot paths ask before building a context). */
export function subscribed(channel: TracingChannelLike | undefined): channel is TracingChannelLike {
  if (channel === undefined) return false;
  const has = channel.hasSubscribers;
  if (typeof has === "boolean") return has;
  const { start, end, asyncStart, asyncEnd, error } = channel;
  // A runtime that cannot say (no sub-channels either): trace, rather than miss a subscriber.
  if (start === undefined) return true;
  return (
    start.hasSubscribers ||
    end!.hasSubscribers ||
    asyncStart!.hasSubscribers ||
    asyncEnd!.hasSubscribers ||
    error!.hasSubscribers
  );
}
