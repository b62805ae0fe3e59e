/**
 * What the gateway's page uses, in workerd and on Node against Mosquitto: GET /destinations (the
 * allow list for an authorized caller) and GET /mqtt/subscribe (a bounded Server-Sent Events stream
 * that ends its upstream client on every exit: message cap, time cap, caller gone, refusal).
 */
import { describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import { createGateway } from "@sockkit/gateway";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import type { SocketTestEnv } from "../harness/node/servers.js";
import { waitUntil } from "../harness/shared/promises.js";

export interface GatewayConsoleConformanceOptions {
  runtime: "workerd" | "node";
  connect: Connect;
  sockets: SocketTestEnv;
  redis: RedisTestEnv;
  mqtt: MqttTestEnv;
  observe?: (request: Request, response: Response) => Promise<void>;
}

interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/** Reads Server-Sent Events off `body` as they come. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  return {
    async next(): Promise<SseEvent | undefined> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
          );
          return { event: fields.event!, ...(fields.id ? { id: fields.id } : {}), data: JSON.parse(fields.data!) };
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

export function gatewayConsoleConformance({
  runtime,
  connect,
  sockets,
  redis,
  mqtt,
  observe,
}: GatewayConsoleConformanceOptions): void {
  const local = "127.0.0.1";
  const handler = createGateway({
    connect,
    allow: [
      { host: local, ports: redis.shared.port, protocol: "redis", name: "test Redis" },
      { host: local, ports: [mqtt.mosquitto, sockets.refused], protocol: "mqtt" },
      { host: "10.0.0.0/8", ports: 6379 },
      { host: "db.internal", ports: "7000-7002" },
    ],
    tokens: [
      { token: "t-all", name: "all" },
      { token: "t-sensors", name: "sensors", mqttSubscribe: ["sensors/+/temp", "public/#"] },
    ],
    limits: { maxConcurrentPerClient: 1, subscribeMaxMessages: 50, subscribeMaxMs: 5000, operationTimeoutMs: 2000 },
    log: false,
  });
  let clients = 0;
  const call = async (path: string, init: RequestInit = {}, token = "t-all", client = `console-${++clients}`) => {
    const request = new Request(`http://gateway.test${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
    });
    const response = await handler.fetch(request, { clientAddress: client });
    await observe?.(request, response);
    return response;
  };
  const publish = async (topic: string, payload: string, extra: Record<string, unknown> = {}) => {
    const response = await call("/mqtt/publish", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ host: local, port: mqtt.mosquitto, topic, payload, qos: 1, ...extra }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  };
  const subscribe = (filter: string, query = "", token = "t-all", client?: string) =>
    call(
      `/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}&filter=${encodeURIComponent(filter)}${query}`,
      {},
      token,
      client,
    );
  const openMqtt = async () => {
    const text = await (await call("/metrics")).text();
    return Number(/^sockkit_gateway_upstream_connections\{protocol="mqtt"\} (\d+)$/m.exec(text)?.[1]);
  };
  const unique = () => `${runtime}-${Math.random().toString(36).slice(2)}`;

  describe(`gateway console routes: GET /destinations, GET /mqtt/subscribe (${runtime})`, () => {
    it("GET /destinations lists the allow list, one entry per port, with what the page may probe", async () => {
      const response = await call("/destinations");
      expect(await response.json()).toEqual({
        destinations: [
          { host: local, port: redis.shared.port, protocol: "redis", name: "test Redis", probe: true },
          { host: local, port: mqtt.mosquitto, protocol: "mqtt", probe: true },
          { host: local, port: sockets.refused, protocol: "mqtt", probe: true },
          { host: "10.0.0.0/8", port: 6379, protocol: "redis", probe: false },
          { host: "db.internal", port: "7000-7002", protocol: "tcp", probe: false },
        ],
        publicPorts: [6379, 1883, 8883],
      });
      expect((await call("/destinations", {}, "wrong")).status).toBe(401);
    });

    it("streams messages in order, then ends at maxMessages and closes its upstream client", async () => {
      const topic = `console/${unique()}`;
      const response = await subscribe(`${topic}/#`, "&qos=1&maxMessages=3", "t-all", "streamer");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const events = sseReader(response.body!);
      expect(await events.next()).toEqual({
        event: "subscribed",
        data: { filter: `${topic}/#`, qos: 1, maxMessages: 3, maxSeconds: 5 },
      });
      // The stream holds the client's one slot.
      expect((await call(`/probe/mqtt?host=${local}&port=${mqtt.mosquitto}`, {}, "t-all", "streamer")).status).toBe(
        429,
      );
      for (let i = 1; i <= 5; i++) await publish(`${topic}/${i}`, `message ${i}`);
      for (let i = 1; i <= 3; i++)
        expect(await events.next()).toEqual({
          event: "message",
          id: String(i),
          data: { topic: `${topic}/${i}`, payload: `message ${i}`, qos: 1, retain: false },
        });
      expect(await events.next()).toEqual({ event: "end", data: { reason: "maxMessages", messages: 3 } });
      expect(await events.next()).toBeUndefined();
      await waitUntil(async () => (await openMqtt()) === 0, 3000);
      expect(await openMqtt()).toBe(0);
      const again = await call(`/probe/mqtt?host=${local}&port=${mqtt.mosquitto}`, {}, "t-all", "streamer");
      expect(again.status).toBe(200);
    });

    it("ends at maxSeconds with no message; a binary payload comes as base64; retained ones come first", async () => {
      const topic = `console/${unique()}`;
      await publish(`${topic}/kept`, "", { payloadBase64: btoa("\u00ff\u00fe\u0000"), retain: true });
      const started = Date.now();
      const events = sseReader((await subscribe(`${topic}/#`, "&maxSeconds=1")).body!);
      expect((await events.next())?.event).toBe("subscribed");
      expect(await events.next()).toEqual({
        event: "message",
        id: "1",
        data: { topic: `${topic}/kept`, payloadBase64: btoa("\u00ff\u00fe\u0000"), qos: 0, retain: true },
      });
      expect(await events.next()).toEqual({ event: "end", data: { reason: "maxSeconds", messages: 1 } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      await publish(`${topic}/kept`, "", { retain: true }); // clears the retained message
      await waitUntil(async () => (await openMqtt()) === 0, 3000);
      expect(await openMqtt()).toBe(0);
    });

    it("a caller that stops reading ends the subscription: the upstream client closes, the slot is free", async () => {
      const response = await subscribe(`console/${unique()}/#`, "", "t-all", "leaver");
      const events = sseReader(response.body!);
      expect((await events.next())?.event).toBe("subscribed");
      expect(await openMqtt()).toBe(1);
      await events.cancel();
      await waitUntil(async () => (await openMqtt()) === 0, 3000);
      expect(await openMqtt()).toBe(0);
      const again = await call(`/probe/mqtt?host=${local}&port=${mqtt.mosquitto}`, {}, "t-all", "leaver");
      expect(again.status).toBe(200);
    });

    it.each([
      ["sensors/kitchen/temp", 200],
      ["sensors/+/temp", 200],
      ["public/#", 200],
      ["public/a/+", 200],
      ["public", 200],
      ["$share/group/public/#", 200],
      ["sensors/#", 403],
      ["#", 403],
      ["+/+/temp", 403],
      ["sensors/+/+", 403],
      ["sensors/kitchen/temp/#", 403],
      ["$SYS/#", 403],
    ] as const)("a subscription to %s within sensors/+/temp and public/#: %i", async (filter, status) => {
      const response = await subscribe(filter, "&maxSeconds=1", "t-sensors");
      expect(response.status).toBe(status);
      if (status === 403)
        expect(await response.json()).toMatchObject({ error: { code: "ETOPIC_DENIED", reason: "mqttSubscribe" } });
      else await response.body!.cancel();
    });

    it("refusals before the stream: bad filter, bad limits, unreachable broker; nothing left open", async () => {
      const cases: Array<[string, number, string]> = [
        [`/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}`, 400, "filter"],
        [`/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}&filter=a/%23/b`, 400, "filter"],
        [`/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}&filter=a&maxMessages=0`, 400, "maxMessages"],
        [`/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}&filter=a&maxMessages=51`, 400, "maxMessages"],
        [`/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}&filter=a&maxSeconds=6`, 400, "maxSeconds"],
        [`/mqtt/subscribe?host=${local}&port=${mqtt.mosquitto}&filter=a&qos=3`, 400, "qos"],
      ];
      for (const [path, status, field] of cases) {
        const response = await call(path);
        expect(response.status, path).toBe(status);
        expect(await response.json()).toMatchObject({ error: { field } });
      }
      const refused = await call(`/mqtt/subscribe?host=${local}&port=${sockets.refused}&filter=a`);
      expect(refused.status).toBe(502);
      expect(await refused.json()).toMatchObject({ error: { code: "ECONNECT" } });
      const denied = await call(`/mqtt/subscribe?host=10.9.9.9&port=1883&filter=a`);
      expect(denied.status).toBe(403);
      await denied.arrayBuffer();
      expect(await openMqtt()).toBe(0);
    });
  });
}
