// The Worker bench/redis-workerd.mjs runs inside workerd: it performs one bench row with
// one client against the redis-server at env.REDIS_PORT and answers with the count done.
// Bundled by esbuild with the `workerd` condition, so @sockkit/adapter-workers is the
// real cloudflare:sockets one.
import { connect } from "@sockkit/adapter-workers";
import { createRedisClient } from "@sockkit/core/redis";
import { createRedis } from "redis-on-workers";

const clients = {
  async sockkit(port) {
    const client = createRedisClient({ connect, address: { hostname: "127.0.0.1", port } });
    await client.connect();
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.close() };
  },
  async "redis-on-workers"(port) {
    const client = createRedis({ url: `redis://127.0.0.1:${port}`, connectFn: connect });
    await client.startConnection();
    return { get: (k) => client.send("GET", k), set: (k, v) => client.send("SET", k, v), close: () => client.close() };
  },
};

const rows = {
  async sequential(c, n) {
    await c.set("bench:seq", "value");
    for (let i = 0; i < n; i++) check(await c.get("bench:seq"), "value");
  },
  async concurrent(c, n) {
    await c.set("bench:conc", "value");
    const all = new Array(n);
    for (let i = 0; i < n; i++) all[i] = c.get("bench:conc");
    for (const value of await Promise.all(all)) check(value, "value");
  },
  // The same, in batches of 200: small enough that a batch's replies usually arrive in one read.
  async batches(c, n) {
    await c.set("bench:conc", "value");
    for (let done = 0; done < n; done += 200) {
      const all = [];
      for (let i = 0; i < 200; i++) all.push(c.get("bench:conc"));
      for (const value of await Promise.all(all)) check(value, "value");
    }
  },
  async kib(c, n) {
    const value = "v".repeat(1024);
    for (let i = 0; i < n; i++) {
      await c.set("bench:kib", value);
      check(await c.get("bench:kib"), value);
    }
  },
  async mib(c, n) {
    const value = "m".repeat(1024 * 1024);
    for (let i = 0; i < n; i++) {
      await c.set("bench:mib", value);
      check(await c.get("bench:mib"), value);
    }
  },
};

// A contender that answers wrongly must not look fast.
function check(got, want) {
  if (got !== want) throw new Error(`wrong reply: ${String(got).slice(0, 40)} (${String(got).length} chars)`);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const make = clients[url.searchParams.get("client")];
    const row = rows[url.searchParams.get("row")];
    const n = Number(url.searchParams.get("n"));
    if (!make || !row || !(n > 0)) return new Response("bad request", { status: 400 });
    const client = await make(Number(env.REDIS_PORT));
    try {
      await row(client, n);
    } finally {
      await client.close();
    }
    return Response.json({ done: n });
  },
};
