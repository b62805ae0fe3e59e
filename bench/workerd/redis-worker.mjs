// The Worker bench/redis-workerd.mjs runs inside workerd: it performs one bench row with
// one client against the redis-server at env.REDIS_PORT and answers with the count done.
// Bundled by esbuild with the `workerd` condition, so @sockkit/adapter-workers is the
// real cloudflare:sockets one.
import { connect, rawConnect } from "@sockkit/adapter-workers";
import { createRedisClient } from "@sockkit/core/redis";
import { createRedis } from "redis-on-workers";

const clients = {
  async sockkit(port) {
    const client = createRedisClient({ connect, address: { hostname: "127.0.0.1", port } });
    await client.connect();
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.close() };
  },
  async "redis-on-workers"(port) {
    // The runtime's own connect(), unwrapped, as a Worker using redis-on-workers would have it.
    const client = createRedis({ url: `redis://127.0.0.1:${port}`, connectFn: rawConnect });
    await client.startConnection();
    return { get: (k) => client.send("GET", k), set: (k, v) => client.send("SET", k, v), close: () => client.close() };
  },
};

const rows = {
  async sequential(c, n) {
    await c.set("bench:seq", "value");
    for (let i = 0; i < n; i++) check(await c.get("bench:seq"), "value");
  },
  // Off the clock (its own request, before the runs): the distinct keys the concurrent rows read,
  // so that a reply handed to the wrong command is caught.
  async setup(c, n) {
    const all = [];
    for (let i = 0; i < n; i++) all.push(c.set(`bench:conc:${i}`, `value:${i}`));
    await Promise.all(all);
  },
  async concurrent(c, n) {
    const all = new Array(n);
    for (let i = 0; i < n; i++) all[i] = c.get(`bench:conc:${i}`);
    (await Promise.all(all)).forEach((value, i) => check(value, `value:${i}`));
  },
  // The same, in batches of 200.
  async batches(c, n) {
    for (let done = 0; done < n; done += 200) {
      const all = [];
      for (let i = 0; i < 200; i++) all.push(c.get(`bench:conc:${i}`));
      (await Promise.all(all)).forEach((value, i) => check(value, `value:${i}`));
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
