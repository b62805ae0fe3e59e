// `npm run bench` (Redis Cluster part): @sockkit/core/redis's createRedisCluster over
// @sockkit/adapter-node against ioredis' Cluster (enableAutoPipelining on) and node-redis'
// createCluster, on one cluster of three masters started here, alternated (the order rotated every
// run), median of RUNS after a warm-up. Each client connects to every master before the clock
// starts. Target (issue #19): at least 1.2x both on 100,000 concurrent GETs across the cluster.
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import { createConnect } from "@sockkit/adapter-node";
import { createRedisCluster } from "@sockkit/core/redis";
import { startRedisCluster } from "./servers.mjs";
import { collectGarbage, machine, median } from "./stats.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CONCURRENT = Number(process.env.BENCH_CLUSTER_CONCURRENT ?? 100_000);
const SEQUENTIAL = Number(process.env.BENCH_CLUSTER_SEQUENTIAL ?? 5000);
const KEYS = 1000; // spread over every master's slots

collectGarbage(); // without --expose-gc, fail here, before any server starts
const cluster = await startRedisCluster(3);
const seeds = cluster.ports.map((port) => ({ host: "127.0.0.1", port }));
const keys = Array.from({ length: KEYS }, (_, i) => `bench:cluster:${i}`);

const contenders = {
  async sockkit() {
    const client = createRedisCluster({ connect: createConnect(), nodes: cluster.ports.map((p) => `127.0.0.1:${p}`) });
    await client.connect();
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.close() };
  },
  async ioredis() {
    const client = new Cluster(seeds, { enableAutoPipelining: true, lazyConnect: true });
    await client.connect();
    await Promise.all(keys.slice(0, 50).map((k) => client.get(k))); // connects to every master
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.quit() };
  },
  async "node-redis"() {
    const client = createCluster({ rootNodes: seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })) });
    client.on("error", () => {});
    await client.connect();
    await Promise.all(keys.slice(0, 50).map((k) => client.get(k)));
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.quit() };
  },
};

const rows = {
  [`${CONCURRENT} concurrent GETs across the cluster`]: async (c) => {
    const all = new Array(CONCURRENT);
    return time(CONCURRENT, async () => {
      for (let i = 0; i < CONCURRENT; i++) all[i] = c.get(keys[i % KEYS]);
      const values = await Promise.all(all);
      for (let i = 0; i < CONCURRENT; i += 997) if (values[i] !== `v${i % KEYS}`) throw new Error("wrong value");
    });
  },
  [`sequential GET ×${SEQUENTIAL} across the cluster`]: async (c) =>
    time(SEQUENTIAL, async () => {
      for (let i = 0; i < SEQUENTIAL; i++) await c.get(keys[i % KEYS]);
    }),
};

// As in bench/redis.mjs: each row starts from a collected heap and pays for its own garbage.
async function time(operations, fn) {
  collectGarbage();
  const t0 = process.hrtime.bigint();
  await fn();
  collectGarbage();
  return operations / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const results = {}; // row -> contender -> [ops/s]
const names = Object.keys(contenders);
try {
  const setup = await contenders.sockkit();
  await Promise.all(keys.map((k, i) => setup.set(k, `v${i}`)));
  await setup.close();
  for (let run = -1; run < RUNS; run++) {
    const order = names.map((_, i) => names[(i + Math.max(run, 0)) % names.length]);
    for (const name of order) {
      const client = await contenders[name]();
      try {
        for (const [row, fn] of Object.entries(rows)) {
          const opsPerSecond = await fn(client);
          if (run >= 0) ((results[row] ??= {})[name] ??= []).push(opsPerSecond); // run -1 is the warm-up
        }
      } finally {
        await client.close();
      }
    }
  }
} finally {
  cluster.stop();
}

console.log(`\nRedis Cluster (3 masters), ${machine()}, median of ${RUNS} alternated runs (ops/s)\n`);
console.log(`| row | sockkit | ioredis | node-redis | sockkit ÷ ioredis | sockkit ÷ node-redis |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
for (const [row, byName] of Object.entries(results)) {
  const m = Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, median(v)]));
  console.log(
    `| ${row} | ${m.sockkit.toFixed(0)} | ${m.ioredis.toFixed(0)} | ${m["node-redis"].toFixed(0)} | ${(m.sockkit / m.ioredis).toFixed(2)} | ${(m.sockkit / m["node-redis"]).toFixed(2)} |`,
  );
}
