/**
 * sockkit's tracing channels (TracingChannel on node:diagnostics_channel, reached through the
 * connect's capability): what a subscriber such as an APM tool sees, in workerd (adapter-workers,
 * nodejs_compat) and on Node (adapter-node), against real Redis and Mosquitto.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRACING_CHANNELS, type Connect } from "@sockkit/core";
import { createMqttClient } from "@sockkit/core/mqtt";
import { createRedisClient, type RedisClientOptions } from "@sockkit/core/redis";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import { rejection, waitUntil } from "../harness/shared/promises.js";

type Phase = "start" | "end" | "asyncStart" | "asyncEnd" | "error";
interface Seen {
  channel: string;
  phase: Phase;
  context: Record<string, unknown>;
}

/** What the suite needs of `node:diagnostics_channel` to subscribe. */
export interface DiagnosticsChannelModule {
  tracingChannel(name: string): {
    subscribe(handlers: Record<Phase, (context: object) => void>): void;
    unsubscribe(handlers: Record<Phase, (context: object) => void>): void;
  };
}

export interface TracingConformanceOptions {
  runtime: "workerd" | "node";
  /** A connect that carries the diagnosticsChannel capability. */
  connect: Connect;
  diagnostics: DiagnosticsChannelModule;
  redis: RedisTestEnv;
  mqtt: MqttTestEnv;
}

export function tracingConformance({ runtime, connect, diagnostics, redis, mqtt }: TracingConformanceOptions): void {
  describe(`tracing channels (${runtime})`, () => {
    const seen: Seen[] = [];
    const subscriptions: Array<() => void> = [];
    beforeAll(() => {
      for (const name of Object.values(TRACING_CHANNELS)) {
        const channel = diagnostics.tracingChannel(name);
        const record = (phase: Phase) => (context: object) =>
          seen.push({ channel: name, phase, context: { ...(context as Record<string, unknown>) } });
        const handlers = {
          start: record("start"),
          end: record("end"),
          asyncStart: record("asyncStart"),
          asyncEnd: record("asyncEnd"),
          error: record("error"),
        };
        channel.subscribe(handlers);
        subscriptions.push(() => channel.unsubscribe(handlers));
      }
    });
    afterAll(() => subscriptions.forEach((stop) => stop()));
    const events = (channel: string, phase: Phase, where: (context: Record<string, unknown>) => boolean = () => true) =>
      seen.filter((e) => e.channel === channel && e.phase === phase && where(e.context)).map((e) => e.context);
    const redisClient = (options: Partial<RedisClientOptions> = {}) =>
      createRedisClient({
        connect,
        address: { hostname: redis.shared.hostname, port: redis.shared.port },
        ...(redis.shared.password ? { password: redis.shared.password } : {}),
        ...options,
      });
    const key = `sockkit-test:tracing:${runtime}:${Math.random().toString(36).slice(2)}`;

    it("sockkit:connect: each socket a client opens, with its address, TLS mode and attempt; a refused one publishes error", async () => {
      const client = redisClient({ clientName: `trace-${runtime}` });
      await client.ping();
      await client.close();
      expect(
        events(TRACING_CHANNELS.connect, "start", (c) => c.port === redis.shared.port && c.attempt === 1),
      ).toContainEqual({
        address: `${redis.shared.hostname}:${redis.shared.port}`,
        hostname: redis.shared.hostname,
        port: redis.shared.port,
        secureTransport: "off",
        attempt: 1,
      });
      const refused = createRedisClient({ connect, address: { hostname: "127.0.0.1", port: 1 } });
      expect(await rejection(refused.ping())).toMatchObject({ code: "ECONNECT" });
      await refused.close();
      expect(events(TRACING_CHANNELS.connect, "error", (c) => c.port === 1)).toEqual([
        expect.objectContaining({
          address: "127.0.0.1:1",
          attempt: 1,
          error: expect.objectContaining({ code: "ECONNECT" }),
        }),
      ]);
    });

    it("sockkit:redis:command: a command's name, server and database, never its arguments by default; an error reply publishes error", async () => {
      const client = redisClient({ db: 5 });
      await client.set(`${key}:a`, "secret-value");
      expect(await client.get(`${key}:a`)).toBe("secret-value");
      await rejection(client.send("INCR", `${key}:a`));
      await client.del(`${key}:a`);
      await client.close();
      const set = events(TRACING_CHANNELS.redisCommand, "start", (c) => c.command === "SET" && c.database === 5);
      expect(set).toEqual([
        { command: "SET", serverAddress: redis.shared.hostname, serverPort: redis.shared.port, database: 5 },
      ]);
      expect(events(TRACING_CHANNELS.redisCommand, "asyncEnd", (c) => c.command === "GET" && c.database === 5)).toEqual(
        [expect.objectContaining({ result: "secret-value" })],
      );
      expect(events(TRACING_CHANNELS.redisCommand, "error", (c) => c.command === "INCR" && c.database === 5)).toEqual([
        expect.objectContaining({ error: expect.objectContaining({ code: "EREPLY" }) }),
      ]);
      expect(
        JSON.stringify(seen.filter((e) => e.channel === TRACING_CHANNELS.redisCommand).map((e) => e.context.args)),
      ).not.toContain(key);
    });

    it("sockkit:redis:command: traceArguments adds the arguments, except to CONFIG and ACL (and AUTH, HELLO, MIGRATE); a pipeline and a transaction are one event each, with their size", async () => {
      const client = redisClient({ traceArguments: true, db: 6 });
      await client.set(`${key}:b`, "shown");
      await client.pipeline((p) => {
        p.set(`${key}:c`, "1");
        p.incr(`${key}:c`);
        p.get(`${key}:c`);
      });
      await client.multi((tx) => {
        tx.incr(`${key}:c`);
        tx.del(`${key}:b`, `${key}:c`);
      });
      // Commands whose arguments may be credentials keep them out of the context, traceArguments or not.
      await client.send("CONFIG", "GET", "maxmemory");
      await client.send("ACL", "WHOAMI");
      await client.close();
      const mine = (c: Record<string, unknown>) => c.database === 6;
      expect(events(TRACING_CHANNELS.redisCommand, "start", (c) => mine(c) && c.command === "SET")).toEqual([
        expect.objectContaining({ args: [`${key}:b`, "shown"] }),
      ]);
      expect(events(TRACING_CHANNELS.redisCommand, "start", (c) => mine(c) && c.command === "PIPELINE")).toEqual([
        expect.objectContaining({ batchSize: 3 }),
      ]);
      expect(events(TRACING_CHANNELS.redisCommand, "start", (c) => mine(c) && c.command === "MULTI")).toEqual([
        expect.objectContaining({ batchSize: 2 }),
      ]);
      const secret = events(
        TRACING_CHANNELS.redisCommand,
        "start",
        (c) => mine(c) && ["CONFIG", "ACL"].includes(c.command as string),
      );
      expect(secret.map((c) => c.command)).toEqual(["CONFIG", "ACL"]);
      for (const context of secret) expect(context).not.toHaveProperty("args");
    });

    it("sockkit:mqtt:connect and sockkit:mqtt:publish: the broker, client id and attempt; topic, QoS, size and packet id, never the payload", async () => {
      const clientId = `trace-${runtime}-${Math.random().toString(36).slice(2, 8)}`;
      const client = createMqttClient({ connect, address: { hostname: "127.0.0.1", port: mqtt.mosquitto }, clientId });
      await client.publish("sockkit/trace/0", "payload-zero", { qos: 0 });
      await client.publish("sockkit/trace/1", "payload-one", { qos: 1 });
      // Refused once connected (a wildcard in a topic name): traced as an error.
      expect(await rejection(client.publish("sockkit/trace/#", "x", { qos: 1 }))).toBeInstanceOf(TypeError);
      await client.end();
      expect(events(TRACING_CHANNELS.mqttConnect, "start", (c) => c.clientId === clientId)).toEqual([
        { serverAddress: "127.0.0.1", serverPort: mqtt.mosquitto, clientId, protocolVersion: 4, attempt: 1 },
      ]);
      expect(events(TRACING_CHANNELS.mqttConnect, "asyncEnd", (c) => c.clientId === clientId)).toHaveLength(1);
      // asyncEnd comes for every publish; a failed one has error set (and its own error event).
      const published = events(
        TRACING_CHANNELS.mqttPublish,
        "asyncEnd",
        (c) => c.clientId === clientId && !("error" in c),
      );
      expect(published).toEqual([
        expect.objectContaining({ topic: "sockkit/trace/0", qos: 0, retain: false, payloadSize: 12 }),
        expect.objectContaining({ topic: "sockkit/trace/1", qos: 1, payloadSize: 11, packetId: expect.any(Number) }),
      ]);
      expect(published[0]).not.toHaveProperty("packetId");
      expect(JSON.stringify(seen.filter((e) => e.channel === TRACING_CHANNELS.mqttPublish))).not.toContain("payload-");
      await waitUntil(() => events(TRACING_CHANNELS.mqttPublish, "error", (c) => c.clientId === clientId).length > 0);
      expect(events(TRACING_CHANNELS.mqttPublish, "error", (c) => c.clientId === clientId)).toEqual([
        expect.objectContaining({ topic: "sockkit/trace/#", error: expect.any(TypeError) }),
      ]);
    });
  });
}
