// sockkit's tracing channels as OpenTelemetry spans, with the semantic conventions' attributes for
// database clients (Redis) and messaging (MQTT). No sockkit code changes: it only subscribes.
import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import {
  TRACING_CHANNELS,
  type ConnectTrace,
  type MqttConnectTrace,
  type MqttPublishTrace,
  type RedisCommandTrace,
} from "@sockkit/core";

/** What this needs of `node:diagnostics_channel` (Node's, or workerd's with nodejs_compat). */
export interface TracingChannels {
  tracingChannel(name: string): {
    subscribe(handlers: Handlers): void;
    unsubscribe(handlers: Handlers): void;
  };
}

interface Handlers {
  start(context: object): void;
  end(context: object): void;
  asyncStart(context: object): void;
  asyncEnd(context: object): void;
  error(context: object): void;
}

export interface InstrumentOptions {
  /** `node:diagnostics_channel` of the runtime sockkit's connect runs in. */
  diagnostics: TracingChannels;
  /** @default the global tracer provider */
  tracerProvider?: TracerProvider;
}

/** One span per traced operation: how each channel's context becomes a span. */
interface SpanPlan<C> {
  name(context: C): string;
  kind: SpanKind;
  attributes(context: C): Attributes;
  /** What the end of the operation adds (a packet identifier known only then, say). */
  finish?(context: C, span: Span): void;
}

const redis: SpanPlan<RedisCommandTrace> = {
  // db.operation.name as the span name, as the database conventions ask.
  name: (c) => c.command,
  kind: SpanKind.CLIENT,
  attributes: (c) => ({
    "db.system.name": "redis",
    "db.operation.name": c.command,
    "db.namespace": String(c.database),
    "server.address": c.serverAddress,
    "server.port": c.serverPort,
    ...(c.batchSize !== undefined ? { "db.operation.batch.size": c.batchSize } : {}),
    // Only when the client was told to trace arguments (traceArguments).
    ...(c.args !== undefined ? { "db.query.text": [c.command, ...c.args.map(String)].join(" ") } : {}),
  }),
};

const mqttPublish: SpanPlan<MqttPublishTrace> = {
  // "{operation} {destination}", as the messaging conventions ask.
  name: (c) => `publish ${c.topic}`,
  kind: SpanKind.PRODUCER,
  attributes: (c) => ({
    "messaging.system": "mqtt",
    "messaging.operation.type": "send",
    "messaging.operation.name": "publish",
    "messaging.destination.name": c.topic,
    "messaging.message.body.size": c.payloadSize,
    "messaging.client.id": c.clientId,
    "server.address": c.serverAddress,
    "server.port": c.serverPort,
    "mqtt.qos": c.qos,
    "mqtt.retain": c.retain,
  }),
  finish: (c, span) => {
    if (c.packetId !== undefined) span.setAttribute("messaging.message.id", String(c.packetId));
  },
};

const mqttConnect: SpanPlan<MqttConnectTrace> = {
  name: () => "mqtt connect",
  kind: SpanKind.CLIENT,
  attributes: (c) => ({
    "messaging.system": "mqtt",
    "messaging.client.id": c.clientId,
    "server.address": c.serverAddress,
    "server.port": c.serverPort,
    "mqtt.protocol_version": c.protocolVersion === 5 ? "5.0" : "3.1.1",
    "sockkit.attempt": c.attempt,
  }),
};

const socket: SpanPlan<ConnectTrace> = {
  name: () => "tcp connect",
  kind: SpanKind.CLIENT,
  attributes: (c) => ({
    "server.address": c.hostname,
    "server.port": c.port,
    "network.transport": "tcp",
    "tls.enabled": c.secureTransport !== "off",
    "sockkit.secure_transport": c.secureTransport,
    "sockkit.attempt": c.attempt,
  }),
};

/**
 * Subscribes to sockkit's tracing channels; returns the function that stops. Each span starts from
 * the context active where the operation began, so an MQTT `publish` span is a child of your own
 * request span; sockkit's spans are not made active in turn (a `tcp connect` is a sibling of the
 * `mqtt connect` it serves, not its child).
 */
export function instrumentSockkit({ diagnostics, tracerProvider }: InstrumentOptions): () => void {
  const tracer = (tracerProvider ?? trace.getTracerProvider()).getTracer("sockkit");
  const stops = [
    follow(diagnostics, TRACING_CHANNELS.redisCommand, tracer, redis),
    follow(diagnostics, TRACING_CHANNELS.mqttPublish, tracer, mqttPublish),
    follow(diagnostics, TRACING_CHANNELS.mqttConnect, tracer, mqttConnect),
    follow(diagnostics, TRACING_CHANNELS.connect, tracer, socket),
  ];
  return () => stops.forEach((stop) => stop());
}

function follow<C extends object>(
  diagnostics: TracingChannels,
  name: string,
  tracer: Tracer,
  plan: SpanPlan<C>,
): () => void {
  const spans = new WeakMap<object, Span>();
  const handlers: Handlers = {
    start(context) {
      const c = context as C;
      spans.set(context, tracer.startSpan(plan.name(c), { kind: plan.kind, attributes: plan.attributes(c) }));
    },
    end() {},
    asyncStart() {},
    error(context) {
      const span = spans.get(context);
      const error = (context as { error?: unknown }).error;
      if (!span) return;
      if (error instanceof Error) span.recordException(error);
      const code = (error as { code?: unknown } | undefined)?.code;
      span.setAttribute("error.type", typeof code === "string" ? code : error instanceof Error ? error.name : "error");
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    },
    asyncEnd(context) {
      const span = spans.get(context);
      if (!span) return;
      spans.delete(context);
      plan.finish?.(context as C, span);
      span.end();
    },
  };
  const channel = diagnostics.tracingChannel(name);
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}
