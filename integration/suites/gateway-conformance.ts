/**
 * The gateway's fetch handler, driven with real Requests in workerd and on
 * Node, against real Redis and Mosquitto and the counting test servers.
 */
import { describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import { createGateway } from "@sockkit/gateway";
import { controlCommand } from "../harness/shared/control-client.js";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import type { SocketTestEnv } from "../harness/node/servers.js";
import type { RuntimeName } from "./runtimes.js";

export interface GatewayConformanceOptions {
  runtime: RuntimeName;
  connect: Connect;
  sockets: SocketTestEnv;
  redis: RedisTestEnv;
  mqtt: MqttTestEnv;
  /** Sees every request and response (Node checks them against openapi.yaml). */
  observe?: (request: Request, response: Response) => Promise<void>;
}

export function gatewayConformance({
  runtime,
  connect,
  sockets,
  redis,
  mqtt,
  observe,
}: GatewayConformanceOptions): void {
  const TOKEN = "test-token";
  const local = "127.0.0.1";
  const handler = createGateway({
    connect,
    token: TOKEN,
    // The telemetry suite reads the log lines; here they would only fill the test output.
    log: false,
    // The operator names these; the echo server on 127.0.0.1 is deliberately left out.
    allow: [
      { host: local, ports: [redis.shared.port, mqtt.mosquitto, redis.fakes.silent, sockets.refused] },
      { host: "::1", ports: sockets.echo6 },
    ],
    limits: {
      connectTimeoutMs: 2000,
      operationTimeoutMs: 500,
      maxBodyBytes: 1024,
      maxResponseBytes: 4096,
      maxConcurrentPerClient: 1,
    },
  });
  const gateway = {
    async fetch(request: Request, info?: { clientAddress: string }): Promise<Response> {
      const response = await handler.fetch(request, info);
      await observe?.(request, response);
      return response;
    },
  };
  const auth = { authorization: `Bearer ${TOKEN}` };
  const call = (path: string, init: RequestInit = {}, client = "tester") =>
    gateway.fetch(
      new Request(`http://gateway.test${path}`, {
        ...init,
        headers: { ...auth, ...(init.headers as Record<string, string>) },
      }),
      { clientAddress: client },
    );
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(path, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json", ...headers },
    });
  const echoAccepted = async () => (await controlCommand(connect, sockets.control)).accepted.echo ?? 0;

  describe(`gateway (${runtime})`, () => {
    it("GET /probe/redis: PING through the policy, with latency", async () => {
      const response = await call(`/probe/redis?host=${local}&port=${redis.shared.port}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        ok: true,
        latencyMs: expect.any(Number),
        detail: { reply: "PONG" },
      });
    });

    it("GET /probe/mqtt: CONNECT/CONNACK", async () => {
      const response = await call(`/probe/mqtt?host=${local}&port=${mqtt.mosquitto}`);
      expect(await response.json()).toMatchObject({ ok: true, detail: { returnCode: 0 } });
    });

    it("POST /redis runs a command on a named destination; POST /mqtt/publish completes the QoS flow", async () => {
      const key = `gateway:${runtime}:${Math.random()}`;
      const set = await post("/redis", { host: local, port: redis.shared.port, command: ["SET", key, "v"] });
      expect(await set.json()).toMatchObject({ ok: true, reply: "OK" });
      const get = await post("/redis", { host: local, port: redis.shared.port, command: ["GET", key] });
      expect(await get.json()).toMatchObject({ ok: true, reply: "v" });
      await post("/redis", { host: local, port: redis.shared.port, command: ["DEL", key] });
      const published = await post("/mqtt/publish", {
        host: local,
        port: mqtt.mosquitto,
        topic: "gateway/test",
        payload: "hi",
        qos: 1,
      });
      expect(await published.json()).toMatchObject({ ok: true, qos: 1 });
    });

    it("POST /tcp relays the body to a named destination and its bytes back", async () => {
      const response = await call(`/tcp?host=::1&port=${sockets.echo6}`, { method: "POST", body: "relay me" });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("relay me");
    });

    // Every spelling of a forbidden destination: 403, and the counting server sees nothing.
    it.each([
      ["127.0.0.1"],
      ["2130706433"],
      ["0x7f.1"],
      ["0177.0.0.1"],
      ["127.1"],
      ["[::ffff:127.0.0.1]"],
      ["::ffff:7f00:1"],
      ["localhost"],
      ["LOCALHOST."],
    ])("GET /probe/tcp?host=%s on a port the operator did not name: 403, no connection", async (host) => {
      const before = await echoAccepted();
      const response = await call(`/probe/tcp?host=${encodeURIComponent(host)}&port=${sockets.echo}`);
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: "EDESTINATION_DENIED" } });
      expect(await echoAccepted()).toBe(before);
    });

    it.each([
      ["/probe/redis?host=169.254.169.254", 403, "EDESTINATION_DENIED"],
      ["/probe/redis?host=0xa9fea9fe", 403, "EDESTINATION_DENIED"],
      ["/probe/redis?host=%5Bfd00%3Aec2%3A%3A254%5D", 403, "EDESTINATION_DENIED"],
      ["/probe/redis?host=100.100.100.200", 403, "EDESTINATION_DENIED"],
      ["/probe/redis?host=10.0.0.1", 403, "EDESTINATION_DENIED"],
      ["/probe/tcp?host=8.8.8.8&port=25", 403, "EDESTINATION_DENIED"],
      ["/probe/redis", 400, "EBADREQUEST"],
      ["/probe/redis?host=a&port=70000", 400, "EBADREQUEST"],
      ["/probe/redis?host=a&port=abc", 400, "EBADREQUEST"],
      ["/probe/tcp?host=a", 400, "EBADREQUEST"],
      ["/probe/redis?host=a&tls=maybe", 400, "EBADREQUEST"],
      ["/probe/nope?host=a", 404, "ENOTFOUND"],
      ["/nothing", 404, "ENOTFOUND"],
    ] as const)("GET %s → %i %s", async (path, status, code) => {
      const response = await call(path);
      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ error: { code } });
    });

    it.each([
      ["a missing command", { host: local, port: redis.shared.port }, 400, "command"],
      ["a command of objects", { host: local, port: redis.shared.port, command: [{}] }, 400, "command"],
      ["a missing host", { command: ["PING"] }, 400, "host"],
      ["a port out of range", { host: local, port: 0, command: ["PING"] }, 400, "port"],
      ["a merely public destination", { host: "8.8.8.8", port: 6379, command: ["PING"] }, 403, undefined],
      ["a private destination", { host: "10.1.2.3", port: 6379, command: ["PING"] }, 403, undefined],
    ] as const)("POST /redis with %s (%j) → %i", async (_name, body, status, field) => {
      const response = await post("/redis", body);
      expect(response.status).toBe(status);
      const payload = (await response.json()) as { error: { field?: string } };
      if (field) expect(payload.error.field).toBe(field);
    });

    it("bad bodies: not JSON 400, wrong type 415, too large 413; wrong method 405", async () => {
      expect((await post("/redis", "{not json")).status).toBe(400);
      expect((await post("/redis", "[]")).status).toBe(400);
      expect(
        (await call("/redis", { method: "POST", body: "{}", headers: { "content-type": "text/plain" } })).status,
      ).toBe(415);
      expect((await post("/redis", { host: local, command: ["SET", "k", "x".repeat(2000)] })).status).toBe(413);
      expect((await call("/redis")).status).toBe(405);
      const publish = await post("/mqtt/publish", { host: local, port: mqtt.mosquitto, topic: "a/#", payload: "x" });
      expect(publish.status).toBe(400);
      const noTopic = await post("/mqtt/publish", { host: local, port: mqtt.mosquitto, payload: "x" });
      expect(await noTopic.json()).toMatchObject({ error: { field: "topic" } });
    });

    it("a missing or wrong token: 401 before anything else", async () => {
      const none = await gateway.fetch(
        new Request(`http://gateway.test/probe/redis?host=${local}&port=${redis.shared.port}`),
      );
      expect(none.status).toBe(401);
      const wrong = await gateway.fetch(
        new Request(`http://gateway.test/probe/redis?host=${local}`, { headers: { authorization: "Bearer nope" } }),
      );
      expect(wrong.status).toBe(401);
      expect((await gateway.fetch(new Request("http://gateway.test/"))).headers.get("content-type")).toMatch(
        /text\/html/,
      );
    });

    it("a silent upstream is a 504, a refused one a 502, never a hang or a stack trace", async () => {
      const silent = await call(`/probe/redis?host=${local}&port=${redis.fakes.silent}`);
      expect(silent.status).toBe(504);
      const refused = await call(`/probe/tcp?host=${local}&port=${sockets.refused}`);
      expect(refused.status).toBe(502);
      expect(JSON.stringify(await refused.json())).not.toMatch(/ at /);
    });

    it("every operation's failures: 400, 413, 415, 502, 504 on /probe/mqtt, /mqtt/publish and /tcp; /health needs no token", async () => {
      const cases: Array<[() => Promise<Response>, number, string]> = [
        [() => call(`/probe/mqtt?host=${local}&port=${sockets.refused}`), 502, "ECONNECT"],
        [() => call(`/probe/mqtt?host=${local}&port=${redis.fakes.silent}`), 504, "ETIMEDOUT"],
        [() => call(`/probe/mqtt?port=1883`), 400, "EBADREQUEST"],
        [
          () => post("/mqtt/publish", { host: local, port: sockets.refused, topic: "t", payload: "x" }),
          502,
          "ECONNECT",
        ],
        [
          () => post("/mqtt/publish", { host: local, port: mqtt.mosquitto, topic: "t", payload: "x".repeat(2000) }),
          413,
          "ETOOLARGE",
        ],
        [
          () => call("/mqtt/publish", { method: "POST", body: "x", headers: { "content-type": "text/plain" } }),
          415,
          "EUNSUPPORTED_MEDIA_TYPE",
        ],
        [
          () => post("/mqtt/publish", { host: local, port: mqtt.mosquitto, topic: "t", payload: "x", qos: 3 }),
          400,
          "EBADREQUEST",
        ],
        [() => call(`/tcp?host=::1`, { method: "POST", body: "x" }), 400, "EBADREQUEST"],
        [() => call(`/tcp?host=${local}&port=${sockets.refused}`, { method: "POST", body: "x" }), 502, "ECONNECT"],
        [() => post("/redis", { host: local, port: redis.shared.port, command: ["NO-SUCH-COMMAND"] }), 502, "EREPLY"],
      ];
      // One at a time: this client may hold one upstream connection.
      for (const [request, status, code] of cases) {
        const response = await request();
        expect(response.status, code).toBe(status);
        expect(await response.json()).toMatchObject({ error: { code } });
      }
      const health = await gateway.fetch(new Request("http://gateway.test/health"));
      expect(await health.json()).toEqual({ ok: true });
    });

    it("the cap on a Redis reply is on the whole reply: a long list is a 502 ETOOLARGE", async () => {
      const key = `gateway:list:${runtime}:${Math.random()}`;
      const push = await post("/redis", {
        host: local,
        port: redis.shared.port,
        command: ["RPUSH", key, ...Array.from({ length: 20 }, () => "x".repeat(40))],
      });
      expect(await push.json()).toMatchObject({ reply: 20 });
      for (let i = 0; i < 4; i++)
        await post("/redis", {
          host: local,
          port: redis.shared.port,
          command: ["RPUSH", key, ...Array.from({ length: 20 }, () => "x".repeat(40))],
        });
      const range = await post("/redis", { host: local, port: redis.shared.port, command: ["LRANGE", key, 0, -1] });
      expect(range.status).toBe(502);
      expect(await range.json()).toMatchObject({ error: { code: "ETOOLARGE" } });
      await post("/redis", { host: local, port: redis.shared.port, command: ["DEL", key] });
    });

    it("a POST /tcp relay holds its client's slot until it ends", async () => {
      let finish!: () => void;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("open"));
          finish = () => controller.close();
        },
      });
      const relay = await gateway.fetch(
        new Request(`http://gateway.test/tcp?host=::1&port=${sockets.echo6}`, {
          method: "POST",
          body,
          headers: auth,
          duplex: "half",
        } as RequestInit),
        { clientAddress: "relayer" },
      );
      expect(relay.status).toBe(200);
      expect((await call(`/probe/redis?host=${local}&port=${redis.shared.port}`, {}, "relayer")).status).toBe(429);
      finish();
      expect(await relay.text()).toBe("open");
      for (let i = 0; i < 50; i++) {
        const again = await call(`/probe/redis?host=${local}&port=${redis.shared.port}`, {}, "relayer");
        if (again.status === 200) return;
        await again.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error("the relay's slot was never released");
    });

    it("one client may hold maxConcurrentPerClient upstream connections; another client is not affected", async () => {
      const slow = call(`/probe/redis?host=${local}&port=${redis.fakes.silent}`, {}, "busy");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await call(`/probe/redis?host=${local}&port=${redis.shared.port}`, {}, "busy")).status).toBe(429);
      expect((await call(`/probe/redis?host=${local}&port=${redis.shared.port}`, {}, "other")).status).toBe(200);
      expect((await slow).status).toBe(504);
    });
  });
}
