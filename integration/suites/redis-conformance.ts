/**
 * The Redis client against a real redis-server (and misbehaving fakes), run
 * in workerd and on Node, on RESP2 and RESP3.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ReplyError, type Connect } from "@sockkit/core";
import { createRedisClient, type RedisClient, type RedisClientOptions } from "@sockkit/core/redis";
import { sendControl } from "../harness/shared/control-client.js";
import { rejection } from "../harness/shared/promises.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import type { RuntimeName } from "./runtimes.js";

export interface RedisConformanceOptions {
  runtime: RuntimeName;
  connect: Connect;
  redis: RedisTestEnv;
}

export function redisConformance({ runtime, connect, redis }: RedisConformanceOptions): void {
  const { shared } = redis;
  const clients: RedisClient[] = [];
  const open = (options: Partial<RedisClientOptions> = {}) => {
    const client = createRedisClient({
      connect,
      address: { hostname: shared.hostname, port: shared.port },
      ...(shared.password ? { password: shared.password } : {}),
      ...options,
    });
    clients.push(client);
    return client;
  };
  const prefix = `sockkit-test:${runtime}:${Math.random().toString(36).slice(2)}:`;

  afterAll(async () => {
    // Remove this run's keys only; a shared server is never flushed.
    const cleaner = open();
    for (const db of [0, 1]) {
      const c = db === 0 ? cleaner : open({ db });
      const keys: string[] = [];
      for await (const key of c.scan({ match: `${prefix}*`, count: 1000 })) keys.push(key);
      if (keys.length > 0) await c.del(...keys);
      expect(await c.exists(...(keys.length > 0 ? keys : [`${prefix}none`]))).toBe(0);
    }
    await Promise.all(clients.map((c) => c.close()));
  });

  for (const protocol of [2, 3] as const) {
    describe(`Redis client, RESP${protocol} (${runtime})`, () => {
      const key = (name: string) => `${prefix}${protocol}:${name}`;

      it("handshakes with the protocol asked for", async () => {
        const client = open({ protocol });
        expect(await client.ping()).toBe("PONG");
        expect(String(await client.send("CLIENT", "INFO"))).toContain(`resp=${protocol}`);
      });

      it("strings: byte lengths for Unicode, binary values both ways, numbers, options", async () => {
        const client = open({ protocol });
        const text = "héllo ☃ 𝄞 \u0000 end\r\n*1\r\n$4\r\nPING";
        await client.set(key("text"), text);
        expect(await client.get(key("text"))).toBe(text);
        expect(await client.strlen(key("text"))).toBe(new TextEncoder().encode(text).length);

        const all = new Uint8Array(256).map((_, i) => i);
        await client.set(key("bin"), all);
        expect(await client.getBuffer(key("bin"))).toEqual(all);
        expect(await client.get(key("missing"))).toBeNull();
        expect(await client.getBuffer(key("missing"))).toBeNull();

        await client.set(key("empty"), "");
        expect(await client.get(key("empty"))).toBe("");

        expect(await client.set(key("nx"), "a", { nx: true })).toBe("OK");
        expect(await client.set(key("nx"), "b", { nx: true })).toBeNull();
        await client.set(key("px"), "v", { px: 60_000 });
        expect(await client.pttl(key("px"))).toBeGreaterThan(50_000);

        expect(await client.incr(key("n"))).toBe(1);
        expect(await client.incrBy(key("n"), 41)).toBe(42);
        expect(await client.incrByFloat(key("f"), 1.5)).toBe(1.5);
        expect(await client.mget(key("n"), key("missing"))).toEqual(["42", null]);
        await client.set(key("big"), 2n ** 62n);
        // Past 2^53 a typed counter refuses to round; send() gives the exact bigint.
        expect(await rejection(client.incrBy(key("big"), 1))).toBeInstanceOf(RangeError);
        expect(await client.send("INCRBY", key("big"), 1)).toBe(2n ** 62n + 2n);
      });

      it("a 1 MiB value round-trips, split across many reads", async () => {
        const client = open({ protocol });
        const value = "x".repeat(1024 * 1024 - 1) + "é";
        await client.set(key("mib"), value);
        expect(await client.get(key("mib"))).toBe(value);
      });

      it("a 200,000-byte status reply and error reply right behind a PING, split across reads; the next command works", async () => {
        const client = open({ protocol });
        const [pong, status, error] = await Promise.all([
          client.ping(),
          client.send("EVAL", "return redis.status_reply(string.rep('a', 200000))", "0"),
          client
            .send("EVAL", "return redis.error_reply('E ' .. string.rep('b', 200000))", "0")
            .catch((e: unknown) => e),
        ]);
        expect(pong).toBe("PONG");
        expect(status).toBe("a".repeat(200_000));
        expect(error).toBeInstanceOf(ReplyError);
        expect((error as ReplyError).message).toContain(`E ${"b".repeat(200_000)}`);
        expect(await client.ping("after")).toBe("after");
      });

      it("hashes, sets and sorted sets have one shape on RESP2 and RESP3", async () => {
        const client = open({ protocol });
        expect(await client.hset(key("h"), { a: "1", b: "two" })).toBe(2);
        expect(await client.hgetall(key("h"))).toEqual({ a: "1", b: "two" });
        expect(await client.hgetall(key("nohash"))).toEqual({});
        expect(await client.hexists(key("h"), "a")).toBe(true);
        expect((await client.hkeys(key("h"))).sort()).toEqual(["a", "b"]);

        await client.sadd(key("s"), "x", "y");
        expect((await client.smembers(key("s"))).sort()).toEqual(["x", "y"]);
        expect(await client.sismember(key("s"), "x")).toBe(true);

        await client.zadd(key("z"), [
          { score: 1.5, member: "a" },
          { score: -2, member: "b" },
        ]);
        expect(await client.zscore(key("z"), "a")).toBe(1.5);
        expect(await client.zscore(key("z"), "nope")).toBeNull();
        expect(await client.zrangeWithScores(key("z"), 0, -1)).toEqual([
          { member: "b", score: -2 },
          { member: "a", score: 1.5 },
        ]);
        await client.zadd(key("z"), [{ score: Infinity, member: "top" }]);
        expect(await client.zscore(key("z"), "top")).toBe(Infinity);

        const id = await client.xadd(key("x"), "*", { field: "value" });
        expect(await client.xrange(key("x"))).toEqual([{ id, fields: { field: "value" } }]);
      });

      it("the SCAN family iterates everything, page by page", async () => {
        const client = open({ protocol });
        await client.mset(Object.fromEntries(Array.from({ length: 120 }, (_, i) => [key(`scan:${i}`), String(i)])));
        const seen = new Set<string>();
        for await (const k of client.scan({ match: key("scan:*"), count: 10 })) seen.add(k);
        expect(seen.size).toBe(120);
        await client.hset(key("hs"), Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, `v${i}`])));
        let fields = 0;
        for await (const [field, value] of client.hscan(key("hs"), { count: 50 })) {
          expect(value).toBe(`v${field.slice(1)}`);
          fields++;
        }
        expect(fields).toBe(300);
      });

      it("10,000 commands in one tick: one write, every reply to its own command", async () => {
        const client = open({ protocol });
        const n = 10_000;
        const sets = Array.from({ length: n }, (_, i) => client.set(key(`p:${i}`), `v${i}`));
        const gets = Array.from({ length: n }, (_, i) => client.get(key(`p:${i}`)));
        await Promise.all(sets);
        const values = await Promise.all(gets);
        values.forEach((value, i) => expect(value).toBe(`v${i}`));
      });

      it("pipeline(): adjacent commands, a failed one reported in place", async () => {
        const client = open({ protocol });
        await client.set(key("str"), "s");
        let incr!: Promise<number>;
        const results = await client.pipeline((p) => {
          p.set(key("pa"), "1");
          incr = p.incr(key("pa"));
          p.hgetall(key("str")); // WRONGTYPE
          p.get(key("pa"));
        });
        expect(results[0]).toBe("OK");
        expect(results[1]).toBe(2);
        expect(results[2]).toBeInstanceOf(ReplyError);
        expect((results[2] as ReplyError).prefix).toBe("WRONGTYPE");
        expect(results[3]).toBe("2");
        expect(await incr).toBe(2);
      });

      it("multi(): a transaction's results, transformed; EXECABORT rejects the whole", async () => {
        const client = open({ protocol });
        await client.set(key("tx-str"), "s");
        const results = await client.multi((tx) => {
          tx.hset(key("tx-h"), { a: "1" });
          tx.hgetall(key("tx-h"));
          tx.hgetall(key("tx-str"));
        });
        expect(results).toEqual([1, { a: "1" }, expect.any(ReplyError)]);

        const error = await rejection(
          client.multi((tx) => {
            tx.set(key("tx-never"), "1");
            tx.send("NO-SUCH-COMMAND");
          }),
        );
        expect(error).toMatchObject({ code: "EREPLY", prefix: "EXECABORT" });
        expect(await client.get(key("tx-never"))).toBeNull();
        expect(await client.ping()).toBe("PONG"); // the connection is fine afterwards
      });

      it("runScript: EVALSHA, falling back to EVAL on NOSCRIPT", async () => {
        const client = open({ protocol });
        const script = `-- ${prefix}${protocol}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
        expect(await client.runScript(script, [key("lua")], [5])).toBe(5);
        const [exists] = (await client.send("SCRIPT", "EXISTS", await sha1Hex(script))) as number[];
        expect(exists).toBe(1);
        expect(await client.runScript(script, [key("lua")], [5])).toBe(10);
      });

      it("an error reply rejects that command only, with code EREPLY, its prefix and the command", async () => {
        const client = open({ protocol });
        await client.hset(key("wt"), { a: "1" });
        const error = await rejection(client.get(key("wt")));
        expect(error).toMatchObject({ code: "EREPLY", prefix: "WRONGTYPE", command: "GET" });
        expect(await client.ping()).toBe("PONG");
      });

      it("a command timeout rejects with ETIMEDOUT; the late reply is dropped, later commands get theirs", async () => {
        const client = open({ protocol });
        const started = Date.now();
        const error = await rejection(client.with({ timeoutMs: 100 }).send("BLPOP", key("never"), "0.5"));
        expect(error).toMatchObject({ code: "ETIMEDOUT" });
        expect(Date.now() - started).toBeLessThan(450);
        expect(await client.echo("after")).toBe("after");
      });

      it("an AbortSignal rejects the command with its reason", async () => {
        const client = open({ protocol });
        const controller = new AbortController();
        const pending = client.with({ signal: controller.signal }).send("BLPOP", key("never2"), "0.3");
        controller.abort(new Error("caller gave up"));
        expect(await rejection(pending)).toMatchObject({ message: "caller gave up" });
        expect(await rejection(client.with({ signal: controller.signal }).ping())).toMatchObject({
          message: "caller gave up",
        });
        expect(await client.ping()).toBe("PONG");
      });

      it("bad arguments reject with a TypeError, and nothing is sent", async () => {
        const client = open({ protocol });
        for (const bad of [{}, null, undefined, Number.NaN, Symbol("x"), [1]]) {
          await expect(client.set(key("bad"), bad as never)).rejects.toThrow(TypeError);
        }
        expect(await client.exists(key("bad"))).toBe(0);
      });

      it("selects a database from the URL", async () => {
        const client = open({
          protocol,
          url: `redis://${shared.password ? `:${encodeURIComponent(shared.password)}@` : ""}${shared.hostname}:${shared.port}/1`,
          address: undefined,
        });
        await client.set(key("db1"), "one");
        expect(await open({ protocol }).get(key("db1"))).toBeNull();
        expect(await client.get(key("db1"))).toBe("one");
      });

      it("authenticates; a wrong or missing password is a clear error", async () => {
        const { auth } = redis;
        const at = { address: { hostname: auth.hostname, port: auth.port } };
        expect(await open({ protocol, ...at, password: auth.password }).ping()).toBe("PONG");
        expect(
          await open({
            protocol,
            url: `redis://:${encodeURIComponent(auth.password)}@${auth.hostname}:${auth.port}`,
            address: undefined,
          }).ping(),
        ).toBe("PONG");
        expect(await rejection(open({ protocol, ...at, password: "wrong" }).ping())).toMatchObject({
          code: "EREPLY",
          prefix: "WRONGPASS",
        });
        expect(await rejection(open({ protocol, ...at }).ping())).toMatchObject({ code: "EREPLY" });
      });

      it("pub/sub: an async iterator of messages in order, ended by unsubscribe", async () => {
        const client = open({ protocol });
        const publisher = open({ protocol });
        const channel = key("chan");
        const subscription = await client.subscribe(channel);
        for (let i = 0; i < 5; i++) expect(await publisher.publish(channel, `m${i}`)).toBe(1);
        const got: string[] = [];
        for await (const message of subscription) {
          expect(message).toMatchObject({ kind: "message", channel });
          got.push(message.message);
          if (got.length === 5) break; // return() unsubscribes
        }
        expect(got).toEqual(["m0", "m1", "m2", "m3", "m4"]);
        expect(await publisher.publish(channel, "nobody")).toBe(0);
        // The client still runs commands (on RESP3 the same connection carried the subscription).
        expect(await client.ping()).toBe("PONG");
      });

      it("pub/sub: patterns with a listener, shared names, several subscriptions", async () => {
        const client = open({ protocol });
        const publisher = open({ protocol });
        const seen: string[] = [];
        const a = await client.psubscribe(key("news.*"), (m) => seen.push(`a:${m.pattern}:${m.channel}:${m.message}`));
        const b = await client.psubscribe(key("news.*"), (m) => seen.push(`b:${m.message}`));
        expect(await publisher.publish(key("news.uk"), "one")).toBe(1); // one connection subscribed, however many listeners
        await until(() => seen.length === 2);
        await a.unsubscribe();
        await publisher.publish(key("news.fr"), "two"); // b still listens, so the server still sends
        await until(() => seen.length === 3);
        await b.unsubscribe();
        expect(await publisher.publish(key("news.de"), "three")).toBe(0);
        expect(seen).toEqual([`a:${key("news.*")}:${key("news.uk")}:one`, "b:one", "b:two"]);
      });

      it("pub/sub: a reader that falls behind gets ETOOLARGE after the buffered messages, never a silent drop", async () => {
        const client = open({ protocol });
        const publisher = open({ protocol });
        const channel = key("slow");
        const subscription = await client.subscribe(channel, undefined, { maxBuffered: 3 });
        for (let i = 0; i < 5; i++) await publisher.publish(channel, `m${i}`);
        await new Promise((resolve) => setTimeout(resolve, 100)); // let all five arrive
        const got: string[] = [];
        const error = await rejection(
          (async () => {
            for await (const message of subscription) got.push(message.message);
          })(),
        );
        expect(got).toEqual(["m0", "m1", "m2"]);
        expect(error).toMatchObject({ code: "ETOOLARGE" });
      });

      it("pub/sub messages arriving while a bytes-wanting command waits are still delivered as text", async () => {
        const client = open({ protocol });
        const publisher = open({ protocol });
        const got: string[] = [];
        await client.subscribe(key("mixed"), (m) => got.push(m.message));
        const waiting = client.sendBuffer("BLPOP", key("mixed-list"), "0.3");
        for (const m of ["m1", "m2", "m3"]) await publisher.publish(key("mixed"), m);
        await waiting;
        await until(() => got.length === 3);
        expect(got).toEqual(["m1", "m2", "m3"]);
      });

      it("multi(): a bad argument rejects the whole transaction before anything is sent; bytes stay bytes", async () => {
        const client = open({ protocol });
        await client.set(key("tx-n"), "1");
        const error = await rejection(
          client.multi((tx) => {
            tx.incrBy(key("tx-n"), Number.NaN);
            tx.get(key("tx-n"));
          }),
        );
        expect(error).toBeInstanceOf(TypeError);
        expect(await client.get(key("tx-n"))).toBe("1");
        await client.set(key("tx-bin"), new Uint8Array([0, 255]));
        const [bytes, text] = (await client.multi((tx) => {
          tx.getBuffer(key("tx-bin"));
          tx.get(key("tx-n"));
        }))!;
        expect(bytes).toEqual(new Uint8Array([0, 255]));
        expect(text).toBe("1");
      });

      it("watch(): multi() resolves with null when a watched key changed, with results when not", async () => {
        const client = open({ protocol });
        await client.set(key("w"), "1");
        const conflicted = await client.watch([key("w")], async (tx) => {
          const value = Number(await tx.get(key("w")));
          await client.set(key("w"), "100"); // another connection changes it
          return tx.multi((m) => {
            m.set(key("w"), String(value + 1));
          });
        });
        expect(conflicted).toBeNull();
        expect(await client.get(key("w"))).toBe("100");
        const ok = await client.watch([key("w")], async (tx) => {
          const value = Number(await tx.get(key("w")));
          return tx.multi((m) => {
            m.set(key("w"), String(value + 1));
          });
        });
        expect(ok).toEqual(["OK"]);
        expect(await client.get(key("w"))).toBe("101");
      });

      it("isolated(): a blocking command on its own connection does not hold up the shared one", async () => {
        const client = open({ protocol });
        const waiting = client.isolated((own) => own.with({ timeoutMs: 5000 }).send("BLPOP", key("q"), "2"));
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await client.rpush(key("q"), "job")).toBe(1); // not stuck behind BLPOP
        expect(await waiting).toEqual([key("q"), "job"]);
      });

      it("close(): replies already owed arrive, then QUIT; later commands reject with ECLOSED", async () => {
        const client = open({ protocol });
        const owed = [client.set(key("c"), "1"), client.get(key("c"))];
        const closing = client.close();
        expect(await Promise.all(owed)).toEqual(["OK", "1"]);
        await closing;
        expect(await rejection(client.ping())).toMatchObject({ code: "ECLOSED" });
        await client.close(); // idempotent
      });

      it("await using closes the client when its block ends", async () => {
        let used!: RedisClient;
        {
          await using client = open({ protocol });
          used = client;
          expect(await client.ping()).toBe("PONG");
        }
        expect(await rejection(used.ping())).toMatchObject({ code: "ECLOSED" });
      });
    });
  }

  describe(`Redis client when the server dies (${runtime})`, () => {
    const { victim } = redis;
    const at = { address: { hostname: victim.hostname, port: victim.port } };
    const control = (command: "kill" | "start" | "restart") => sendControl(connect, victim.control, command);

    it("killed mid-pipeline of 10,000: each command either has its own reply or rejects with ECLOSED, none hangs", async () => {
      const client = open(at);
      await client.ping();
      const n = 10_000;
      // The server sleeps first, so the whole pipeline is still owed when it dies.
      const sleeping = client.send("DEBUG", "SLEEP", "0.5").catch((error: unknown) => error);
      const sets = Array.from({ length: n }, (_, i) => client.set(`fault:${i}`, `v${i}`));
      const gets = Array.from({ length: n }, (_, i) => client.get(`fault:${i}`));
      const settled = Promise.allSettled([...sets, ...gets]);
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await control("kill");
      } finally {
        await control("start");
      }
      expect(await sleeping).toMatchObject({ code: "ECLOSED" });
      const results = await settled;
      let fulfilled = 0;
      results.forEach((result, i) => {
        if (result.status === "rejected") expect(result.reason).toMatchObject({ code: "ECLOSED" });
        else {
          fulfilled++;
          expect(result.value).toBe(i < n ? "OK" : `v${i - n}`); // never another command's reply
        }
      });
      expect(fulfilled).toBeLessThan(2 * n); // the kill did cut the pipeline
      expect(await rejection(client.ping())).toMatchObject({ code: "ECLOSED" }); // no reconnection by default
    });

    it("reconnect: commands in flight reject, the next ones run on a new connection", async () => {
      const client = open({ ...at, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } });
      await client.set("fault:r", "1");
      const inFlight = rejection(client.send("BLPOP", "fault:never", "5"));
      await control("restart");
      expect(await inFlight).toMatchObject({ code: "ECLOSED" });
      expect(await client.ping()).toBe("PONG");
    });

    it("reconnect: subscriptions are renewed after a restart, on RESP2 and RESP3", async () => {
      for (const protocol of [2, 3] as const) {
        const subscriber = open({ ...at, protocol, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } });
        const received: string[] = [];
        await subscriber.subscribe(`fault:chan:${protocol}`, (m) => received.push(m.message));
        await control("restart");
        const publisher = open(at);
        // Publish until the renewed subscription hears it (the reconnection has a backoff).
        for (let i = 0; i < 100 && received.length === 0; i++) {
          await publisher.publish(`fault:chan:${protocol}`, `after restart ${i}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(received[0]).toMatch(/^after restart/);
        await publisher.close();
        await subscriber.close();
      }
    });

    it("reconnect: while the server is down, the offline queue is bounded and its commands fail with the attempt", async () => {
      const client = open({ ...at, reconnect: { baseDelayMs: 50, maxDelayMs: 100, maxOfflineCommands: 5 } });
      await client.ping();
      let codes: Array<string | undefined>;
      try {
        await control("kill");
        // The loss is noticed; the next commands wait for a reconnection that cannot succeed.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => client.ping()));
        codes = results.map((r) => (r.status === "rejected" ? (r.reason as { code?: string }).code : "ok"));
      } finally {
        await control("start");
      }
      expect(codes.filter((c) => c === "ECONNECT")).toHaveLength(5);
      expect(codes.filter((c) => c === "ECLOSED")).toHaveLength(3);
      // Back: the client recovers by itself.
      let pong: unknown;
      for (let i = 0; i < 50 && pong !== "PONG"; i++)
        pong = await client.ping().catch(() => new Promise((resolve) => setTimeout(resolve, 50)));
      expect(pong).toBe("PONG");
    });

    it("a slow server (DEBUG SLEEP): pipelined commands wait their turn and keep their order", async () => {
      const client = open(at);
      const slow = client.send("DEBUG", "SLEEP", "0.3");
      const after = Array.from({ length: 100 }, (_, i) => client.echo(`e${i}`));
      expect(await slow).toBe("OK");
      expect(await Promise.all(after)).toEqual(Array.from({ length: 100 }, (_, i) => `e${i}`));
    });
  });

  describe(`Redis client against misbehaving servers (${runtime})`, () => {
    const fake = (port: number, options: Partial<RedisClientOptions> = {}) =>
      open({ address: { hostname: "127.0.0.1", port }, ...options });

    it.each([
      ["garbage", "EPROTOCOL"],
      ["hugeBulk", "ETOOLARGE"],
      ["deep", "ETOOLARGE"],
      ["unsolicited", "EPROTOCOL"],
      ["truncated", "ECLOSED"],
    ] as const)("%s: every command in flight rejects with %s and the client is closed", async (name, code) => {
      const client = fake(redis.fakes[name]);
      const pending = [client.ping(), client.get("a"), client.set("b", "c")];
      for (const result of await Promise.allSettled(pending)) {
        expect(result).toMatchObject({ status: "rejected", reason: { code } });
      }
      expect(await rejection(client.ping())).toMatchObject({ code: "ECLOSED" });
    });

    it("silent: the handshake has the connect deadline, even with no command timeout, and close() does not hang", async () => {
      const client = fake(redis.fakes.silent, { connectTimeoutMs: 300, commandTimeoutMs: Infinity });
      const started = Date.now();
      expect(await rejection(client.ping())).toMatchObject({ code: "ETIMEDOUT" });
      expect(Date.now() - started).toBeLessThan(2000);
      await client.close();
    });

    it("reconnect: connections dropped soon after their handshake count as failures: the backoff grows instead of a new connection per command", async () => {
      const attempts: number[] = [];
      const counting: Connect = (address, options) => {
        attempts.push(Date.now());
        return connect(address, options);
      };
      const client = createRedisClient({
        connect: counting,
        address: { hostname: "127.0.0.1", port: redis.fakes.flappy },
        protocol: 2,
        commandTimeoutMs: 1000,
        reconnect: { baseDelayMs: 20, maxDelayMs: 300 },
      });
      clients.push(client);
      const end = Date.now() + 1500;
      const codes = new Set<string>();
      while (Date.now() < end) await client.ping().catch((error: { code?: string }) => codes.add(String(error.code)));
      // Each connection lives ~30 ms: one per command would be dozens here; backing off (20, 40, 80,
      // 160, then 300 ms at most, half of each jittered) it is about ten.
      expect(attempts.length).toBeGreaterThanOrEqual(4);
      expect(attempts.length).toBeLessThanOrEqual(15);
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
      expect(Math.max(...gaps.slice(-3))).toBeGreaterThanOrEqual(150);
      expect([...codes]).toEqual(["ECLOSED"]);
      await client.close();
    });

    it("reconnect: connections that complete their handshake are not failed attempts: a server that drops idle clients never uses up retries", async () => {
      const client = createRedisClient({
        connect,
        address: { hostname: "127.0.0.1", port: redis.fakes.idler },
        protocol: 2,
        reconnect: { retries: 2, baseDelayMs: 20, maxDelayMs: 1000 },
      });
      clients.push(client);
      const replies: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        replies.push(await client.ping().catch((error: { code?: string }) => error.code));
        await new Promise((resolve) => setTimeout(resolve, 400)); // the server drops the connection (idle 100 ms) meanwhile
      }
      expect(replies).toEqual(["PONG", "PONG", "PONG", "PONG", "PONG"]);
      await client.close();
    });

    it("a refused connection rejects the command with ECONNECT", async () => {
      const client = open({ address: { hostname: "127.0.0.1", port: redis.fakes.silent }, connectTimeoutMs: 5000 });
      const refused = createRedisClient({ connect, url: "redis://127.0.0.1:1" });
      clients.push(refused);
      expect(await rejection(refused.ping())).toMatchObject({ code: "ECONNECT" });
      client.destroy();
    });
  });
}

/** Waits (up to 2 s) for `condition`; messages reach a subscriber after the publisher's reply. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
