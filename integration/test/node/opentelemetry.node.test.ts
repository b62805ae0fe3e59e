// examples/opentelemetry: sockkit's tracing channels as OpenTelemetry spans, checked with the SDK's
// in-memory exporter against a real redis-server and Mosquitto.
import diagnostics from "node:diagnostics_channel";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { createMqttClient } from "@sockkit/core/mqtt";
import { createRedisClient } from "@sockkit/core/redis";
import { instrumentSockkit } from "../../../examples/opentelemetry/src/instrument.js";

const redis = inject("redis").shared;
const mqtt = inject("mqtt");
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const stop = instrumentSockkit({ diagnostics, tracerProvider: provider });
afterAll(async () => {
  stop();
  await provider.shutdown();
});
const spans = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);

describe("examples/opentelemetry", () => {
  it("Redis commands become CLIENT spans with the database conventions' attributes; errors set the status", async () => {
    const key = `sockkit-test:otel:${Math.random().toString(36).slice(2)}`;
    const client = createRedisClient({
      connect: createConnect(),
      address: { hostname: redis.hostname, port: redis.port },
      ...(redis.password ? { password: redis.password } : {}),
      db: 7,
      traceArguments: true,
    });
    await client.set(key, "v");
    await client.pipeline((p) => {
      p.get(key);
      p.strlen(key);
    });
    await client.send("INCR", key).catch(() => {});
    await client.del(key);
    await client.close();
    const mine = (name: string) => spans(name).filter((span) => span.attributes["db.namespace"] === "7");
    const [set] = mine("SET");
    expect(set?.kind).toBe(SpanKind.CLIENT);
    expect(set?.attributes).toEqual({
      "db.system.name": "redis",
      "db.operation.name": "SET",
      "db.namespace": "7",
      "server.address": redis.hostname,
      "server.port": redis.port,
      "db.query.text": `SET ${key} v`,
    });
    expect(mine("PIPELINE")[0]?.attributes["db.operation.batch.size"]).toBe(2);
    const [incr] = mine("INCR");
    expect(incr?.status.code).toBe(SpanStatusCode.ERROR);
    expect(incr?.attributes["error.type"]).toBe("EREPLY");
    expect(incr?.events.map((event) => event.name)).toEqual(["exception"]);
    // The socket the client opened is a span too.
    expect(
      spans("tcp connect").some(
        (span) => span.attributes["server.port"] === redis.port && span.attributes["sockkit.attempt"] === 1,
      ),
    ).toBe(true);
  });

  it("MQTT publishes become PRODUCER spans with the messaging conventions' attributes, never the payload", async () => {
    const clientId = `otel-${Math.random().toString(36).slice(2, 8)}`;
    const client = createMqttClient({ connect: createConnect(), address: `127.0.0.1:${mqtt.mosquitto}`, clientId });
    await client.publish("sockkit/otel", "secret-payload", { qos: 1 });
    await client.end();
    const [publish] = spans("publish sockkit/otel").filter(
      (span) => span.attributes["messaging.client.id"] === clientId,
    );
    expect(publish?.kind).toBe(SpanKind.PRODUCER);
    expect(publish?.attributes).toMatchObject({
      "messaging.system": "mqtt",
      "messaging.operation.type": "send",
      "messaging.destination.name": "sockkit/otel",
      "messaging.message.body.size": 14,
      "messaging.message.id": expect.stringMatching(/^\d+$/),
      "server.port": mqtt.mosquitto,
      "mqtt.qos": 1,
    });
    expect(JSON.stringify(publish?.attributes)).not.toContain("secret-payload");
    const connects = spans("mqtt connect").filter((span) => span.attributes["messaging.client.id"] === clientId);
    expect(connects).toHaveLength(1);
    expect(connects[0]?.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});
