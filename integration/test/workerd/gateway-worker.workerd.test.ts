// The Worker example's own handler, inside workerd, configured through env like a deployed Worker.
import { describe, expect, inject, it } from "vitest";
import worker from "../../../examples/gateway-worker/src/index.js";

const redis = inject("redis");
const mqtt = inject("mqtt");

describe("examples/gateway-worker in workerd", () => {
  const env = {
    ALLOW: JSON.stringify([{ host: "127.0.0.1", ports: [redis.shared.port, mqtt.mosquitto] }]),
    TOKEN: "s3cret",
  };
  const call = (path: string, init: RequestInit = {}, token = "s3cret") =>
    worker.fetch(
      new Request(`http://worker.test${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
      }),
      env,
    );

  it("probes Redis and MQTT named in ALLOW, and runs a Redis command", async () => {
    expect(await (await call(`/probe/redis?host=127.0.0.1&port=${redis.shared.port}`)).json()).toMatchObject({
      ok: true,
    });
    expect(await (await call(`/probe/mqtt?host=127.0.0.1&port=${mqtt.mosquitto}`)).json()).toMatchObject({ ok: true });
    const reply = await call("/redis", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ host: "127.0.0.1", port: redis.shared.port, command: ["ECHO", "from a worker"] }),
    });
    expect(await reply.json()).toMatchObject({ ok: true, reply: "from a worker" });
  });

  it("TOKENS and ACCESS: each token's own command rules and topic filters, FLUSHALL refused by default", async () => {
    const configured = {
      ...env,
      TOKENS: JSON.stringify([{ token: "reader", name: "reader", redisCommands: "read-only" }]),
      ACCESS: JSON.stringify({ mqttPublish: ["worker/#"] }),
    };
    const post = (token: string, path: string, body: unknown) =>
      worker.fetch(
        new Request(`http://worker.test${path}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
        configured,
      );
    const redisAs = async (token: string, command: string[]) =>
      (await post(token, "/redis", { host: "127.0.0.1", port: redis.shared.port, command })).status;
    expect(await redisAs("s3cret", ["FLUSHALL"])).toBe(403);
    expect(await redisAs("s3cret", ["CONFIG", "SET", "maxmemory", "1"])).toBe(403);
    expect(await redisAs("s3cret", ["SET", "worker:policy", "v"])).toBe(200);
    expect(await redisAs("reader", ["GET", "worker:policy"])).toBe(200);
    expect(await redisAs("reader", ["DEL", "worker:policy"])).toBe(403);
    expect(await redisAs("s3cret", ["DEL", "worker:policy"])).toBe(200);
    const publish = (topic: string) =>
      post("s3cret", "/mqtt/publish", { host: "127.0.0.1", port: mqtt.mosquitto, topic, payload: "x" });
    expect((await publish("worker/a")).status).toBe(200);
    expect(await (await publish("elsewhere")).json()).toMatchObject({ error: { code: "ETOPIC_DENIED" } });
  });

  it("GET /metrics counts this isolate's requests; x-request-id is echoed", async () => {
    const before = await (await call("/metrics")).text();
    const count = (text: string) =>
      Number(
        /^sockkit_gateway_requests_total\{route="\/probe\/redis",method="GET",status="200"\} (\d+)$/m.exec(text)?.[1] ??
          0,
      );
    const probe = await call(`/probe/redis?host=127.0.0.1&port=${redis.shared.port}`, {
      headers: { "x-request-id": "worker-req-1" },
    });
    expect(probe.headers.get("x-request-id")).toBe("worker-req-1");
    await probe.arrayBuffer();
    const after = await call("/metrics");
    expect(after.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await after.text();
    expect(count(text)).toBe(count(before) + 1);
    expect(text).toMatch(/^sockkit_gateway_upstream_duration_seconds_count\{protocol="redis",outcome="ok"\} \d+$/m);
    expect(text).toMatch(/^sockkit_gateway_upstream_connections\{protocol="redis"\} 0$/m);
    expect((await call("/metrics", {}, "wrong")).status).toBe(401);
  });

  it("refuses a wrong token (401) and a destination outside ALLOW (403)", async () => {
    expect((await call(`/probe/redis?host=127.0.0.1&port=${redis.shared.port}`, {}, "wrong")).status).toBe(401);
    expect((await call("/probe/redis?host=127.0.0.1&port=1")).status).toBe(403);
  });
});
