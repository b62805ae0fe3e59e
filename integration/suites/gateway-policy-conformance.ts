/**
 * The gateway's access policy, driven with real Requests in workerd and on Node against real Redis
 * and Mosquitto: Redis command rules per token (by Redis's ACL categories and by name, subcommands
 * included), MQTT topic filters per token, and configuration errors.
 */
import { describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import { createGateway } from "@sockkit/gateway";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";

export interface GatewayPolicyConformanceOptions {
  runtime: "workerd" | "node";
  connect: Connect;
  redis: RedisTestEnv;
  mqtt: MqttTestEnv;
  /** Sees every request and response (Node checks them against openapi.yaml). */
  observe?: (request: Request, response: Response) => Promise<void>;
}

/** What the default rules refuse, in the spellings callers use, with the rule that refuses each. */
export const REFUSED_BY_DEFAULT: ReadonlyArray<[command: Array<string | number>, rule: string]> = [
  [["FLUSHALL"], "-@dangerous"],
  [["flushall", "ASYNC"], "-@dangerous"],
  [["FlushDB"], "-@dangerous"],
  [["CONFIG", "SET", "maxmemory", "1"], "-@dangerous"],
  [["config", "get", "*"], "-@dangerous"],
  [["CONFIG", "REWRITE"], "-@dangerous"],
  [["SHUTDOWN", "NOSAVE"], "-@dangerous"],
  [["DEBUG", "SLEEP", 0], "-@dangerous"],
  [["MODULE", "LIST"], "-@dangerous"],
  [["ACL", "SETUSER", "intruder", "on"], "-acl"],
  [["acl", "whoami"], "-acl"],
  [["REPLICAOF", "NO", "ONE"], "-@dangerous"],
  [["SLAVEOF", "NO", "ONE"], "-@dangerous"],
  [["MIGRATE", "127.0.0.1", 1, "k", 0, 1000], "-@dangerous"],
  [["CLUSTER", "INFO"], "-cluster"],
  [["SCRIPT", "FLUSH"], "-@scripting"],
  [["script", "KILL"], "-@scripting"],
  [["CLIENT", "KILL", "ID", 1], "-@dangerous"],
  [["client", "pause", 10], "-@dangerous"],
  [["SAVE"], "-@dangerous"],
  [["BGSAVE"], "-@dangerous"],
  [["BGREWRITEAOF"], "-@dangerous"],
  [["MONITOR"], "-@dangerous"],
  [["SYNC"], "-@dangerous"],
  [["PSYNC", "?", -1], "-@dangerous"],
  [["FAILOVER"], "-@dangerous"],
  [["SWAPDB", 0, 1], "-@dangerous"],
  [["KEYS", "*"], "-@dangerous"],
  [["EVAL", "return 1", 0], "-@scripting"],
  [["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", 0], "-@scripting"],
  [["FCALL", "f", 0], "-@scripting"],
  [["FUNCTION", "FLUSH"], "-@scripting"],
  [["function", "list"], "-@scripting"],
];

export function gatewayPolicyConformance({ runtime, connect, redis, mqtt, observe }: GatewayPolicyConformanceOptions) {
  const local = "127.0.0.1";
  const handler = createGateway({
    connect,
    allow: [{ host: local, ports: [redis.shared.port, mqtt.mosquitto] }],
    tokens: [
      { token: "t-default", name: "default" },
      { token: "t-reader", name: "reader", redisCommands: "read-only", mqttPublish: [] },
      {
        token: "t-ops",
        name: "ops",
        redisCommands: "+@all -@dangerous +config|get",
        mqttPublish: ["sensors/+/temp", "public/#"],
      },
    ],
    limits: { operationTimeoutMs: 2000 },
    log: false,
  });
  const post = async (path: string, token: string, body: unknown) => {
    const request = new Request(`http://gateway.test${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const response = await handler.fetch(request, { clientAddress: `policy-${token}` });
    await observe?.(request, response);
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const redisAs = (token: string, command: Array<string | number>) =>
    post("/redis", token, { host: local, port: redis.shared.port, command });
  const publishAs = (token: string, topic: string) =>
    post("/mqtt/publish", token, { host: local, port: mqtt.mosquitto, topic, payload: "x", qos: 1 });

  describe(`gateway command and topic policy (${runtime})`, () => {
    it.each(REFUSED_BY_DEFAULT)(
      "POST /redis %j is refused by default (%s): 403 ECOMMAND_DENIED",
      async (command, rule) => {
        const { status, body } = await redisAs("t-default", command);
        expect(status).toBe(403);
        expect(body.error).toMatchObject({ code: "ECOMMAND_DENIED", reason: rule });
        const label = [command[0], ...(typeof command[1] === "string" ? [command[1]] : [])].join(" ").toUpperCase();
        expect(body.error.message).toContain(label.split(" ")[0]);
      },
    );

    it("a refused FLUSHALL or CONFIG SET never reaches Redis", async () => {
      const key = `policy:${runtime}:${Math.random()}`;
      expect((await redisAs("t-default", ["SET", key, "kept"])).body).toMatchObject({ ok: true });
      const before = (await redisAs("t-ops", ["CONFIG", "GET", "maxmemory-policy"])).body;
      expect(before).toMatchObject({ ok: true });
      expect((await redisAs("t-default", ["FLUSHALL"])).status).toBe(403);
      expect((await redisAs("t-default", ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])).status).toBe(403);
      expect((await redisAs("t-ops", ["FLUSHALL"])).status).toBe(403);
      expect((await redisAs("t-default", ["GET", key])).body).toMatchObject({ reply: "kept" });
      expect((await redisAs("t-ops", ["CONFIG", "GET", "maxmemory-policy"])).body).toEqual({
        ...before,
        latencyMs: expect.any(Number),
      });
      await redisAs("t-default", ["DEL", key]);
    });

    it("subcommands are judged on their own: CLIENT LIST and INFO pass, CLIENT KILL does not", async () => {
      const list = await redisAs("t-default", ["client", "LIST"]);
      expect(list).toMatchObject({ status: 200, body: { ok: true, reply: expect.stringContaining("id=") } });
      expect((await redisAs("t-default", ["INFO", "server"])).body.reply).toContain("redis_version");
      expect((await redisAs("t-default", ["CLIENT", "ID"])).status).toBe(200);
      expect((await redisAs("t-default", ["CLIENT", "KILL", "ID", 1])).body.error.reason).toBe("-@dangerous");
    });

    it("a command the table does not know passes @all and reaches Redis, which refuses it (502 EREPLY)", async () => {
      const { status, body } = await redisAs("t-default", ["NO-SUCH-COMMAND"]);
      expect(status).toBe(502);
      expect(body.error).toMatchObject({ code: "EREPLY", prefix: "ERR" });
    });

    it("the read-only preset: reads pass, writes are refused, the reason names the rule", async () => {
      const key = `policy:ro:${runtime}:${Math.random()}`;
      expect((await redisAs("t-reader", ["GET", key])).body).toMatchObject({ ok: true, reply: null });
      expect((await redisAs("t-reader", ["EXISTS", key])).body).toMatchObject({ ok: true, reply: 0 });
      expect((await redisAs("t-reader", ["PING"])).body).toMatchObject({ ok: true, reply: "PONG" });
      expect((await redisAs("t-reader", ["SCAN", 0, "COUNT", 1])).status).toBe(200);
      const set = await redisAs("t-reader", ["SET", key, "v"]);
      expect(set).toMatchObject({ status: 403, body: { error: { code: "ECOMMAND_DENIED", reason: "-@all" } } });
      expect((await redisAs("t-reader", ["DEL", key])).status).toBe(403);
      expect((await redisAs("t-reader", ["KEYS", "*"])).body.error.reason).toBe("-@dangerous");
      expect((await redisAs("t-reader", ["EVAL_RO", "return 1", 0])).body.error.reason).toBe("-@scripting");
    });

    it("each token has its own rules: ops may CONFIG GET, the default token may not", async () => {
      expect((await redisAs("t-ops", ["CONFIG", "GET", "maxmemory"])).status).toBe(200);
      expect((await redisAs("t-default", ["CONFIG", "GET", "maxmemory"])).body.error.reason).toBe("-@dangerous");
      expect((await redisAs("t-ops", ["CONFIG", "SET", "maxmemory", "0"])).body.error.reason).toBe("-@dangerous");
      expect((await redisAs("nope", ["PING"])).status).toBe(401);
    });

    it("MQTT topic filters per token: 403 ETOPIC_DENIED outside them, nothing published", async () => {
      expect((await publishAs("t-ops", "sensors/kitchen/temp")).body).toMatchObject({ ok: true });
      expect((await publishAs("t-ops", "public/a/b/c")).body).toMatchObject({ ok: true });
      for (const topic of ["sensors/kitchen/humidity", "sensors/kitchen/temp/raw", "private", "$SYS/x"]) {
        const { status, body } = await publishAs("t-ops", topic);
        expect(status, topic).toBe(403);
        expect(body.error, topic).toMatchObject({ code: "ETOPIC_DENIED" });
      }
      expect((await publishAs("t-reader", "public/a")).status).toBe(403);
      expect((await publishAs("t-default", "anything/at/all")).status).toBe(200);
      expect((await publishAs("t-default", "$SYS/not-by-default")).status).toBe(403);
    });

    it.each([
      [{ access: { redisCommands: "+@all -@nosuch" } }, /names no Redis ACL category/],
      [{ access: { redisCommands: ["+@all", "flushall"] } }, /is not a Redis command rule/],
      [{ access: { redisCommands: ["+get", 1] } }, /is not a Redis command rule/],
      [{ access: { mqttPublish: ["a/#/b"] } }, /mqttPublish filter "a\/#\/b"/],
      [{ tokens: [{ token: "a" }, { token: "a" }] }, /a token is given twice/],
      [{ tokens: [{ token: "" }] }, /must be a non-empty string/],
      [
        {
          tokens: [
            { token: "a", name: "x" },
            { token: "b", name: "x" },
          ],
        },
        /two tokens are named x/,
      ],
      [{ token: "has space" }, /without spaces/],
    ] as const)("a bad configuration is a TypeError at createGateway: %j", (options, message) => {
      expect(() => createGateway({ connect, ...(options as object) })).toThrow(TypeError);
      expect(() => createGateway({ connect, ...(options as object) })).toThrow(message);
    });
  });
}
