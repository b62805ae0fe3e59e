// `npm run bench` (Redis part): @sockkit/core/redis over @sockkit/adapter-node
// against ioredis (auto-pipelining on) and node-redis, on one redis-server
// started here, alternated, median of RUNS; and our RESP decoder against
// redis-parser on the same bytes. Targets (issue #5): >= 1.0x ioredis on
// every row, ahead of redis-parser.
import Redis from "ioredis";
import { createClient } from "redis";
import RedisParser from "redis-parser";
import { createConnect } from "@sockkit/adapter-node";
import { utf8DecoderOf } from "@sockkit/core/adapter";
import { createRedisClient, RespDecoder } from "@sockkit/core/redis";
import { startRedisServer } from "./servers.mjs";
import { alternate, collectGarbage, machine, median } from "./stats.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SEQUENTIAL = Number(process.env.BENCH_REDIS_SEQUENTIAL ?? 10_000);
const CONCURRENT = Number(process.env.BENCH_REDIS_CONCURRENT ?? 200_000);

collectGarbage(); // without --expose-gc, fail here, before any server starts
const server = await startRedisServer();
const { port } = server;

const contenders = {
  async sockkit() {
    const client = createRedisClient({ connect: createConnect(), address: { hostname: "127.0.0.1", port } });
    await client.connect();
    return {
      get: (k) => client.get(k),
      set: (k, v) => client.set(k, v),
      close: () => client.close(),
    };
  },
  async ioredis() {
    const client = new Redis({ host: "127.0.0.1", port, enableAutoPipelining: true, lazyConnect: true });
    await client.connect();
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.quit() };
  },
  async "node-redis"() {
    const client = createClient({ socket: { host: "127.0.0.1", port } });
    await client.connect();
    return { get: (k) => client.get(k), set: (k, v) => client.set(k, v), close: () => client.quit() };
  },
};

const kib = "v".repeat(1024);
const mib = "m".repeat(1024 * 1024);

const rows = {
  [`sequential GET ×${SEQUENTIAL}`]: async (c) => {
    await c.set("bench:seq", "value");
    return time(SEQUENTIAL, async () => {
      for (let i = 0; i < SEQUENTIAL; i++) await c.get("bench:seq");
    });
  },
  [`${CONCURRENT} concurrent GETs`]: async (c) => {
    await c.set("bench:conc", "value");
    return time(CONCURRENT, async () => {
      const all = new Array(CONCURRENT);
      for (let i = 0; i < CONCURRENT; i++) all[i] = c.get("bench:conc");
      await Promise.all(all);
    });
  },
  "SET+GET 1 KiB ×5000 (sequential)": async (c) =>
    time(5000, async () => {
      for (let i = 0; i < 5000; i++) {
        await c.set("bench:kib", kib);
        await c.get("bench:kib");
      }
    }),
  "SET+GET 1 MiB ×50 (sequential)": async (c) =>
    time(50, async () => {
      for (let i = 0; i < 50; i++) {
        await c.set("bench:mib", mib);
        if ((await c.get("bench:mib")).length !== mib.length) throw new Error("short read");
      }
    }),
};

// Each row starts from a collected heap and pays for collecting its own garbage
// (collectGarbage): traced here, sockkit's 1 MiB row otherwise took the
// mark-compact of a ~1 GB heap left by the 200,000-GET rows in 4 of 5 runs
// (0.6x ioredis; 1.5-1.9x from a clean heap).
async function time(operations, fn) {
  collectGarbage();
  const t0 = process.hrtime.bigint();
  await fn();
  collectGarbage();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return operations / seconds;
}

const results = {}; // row -> contender -> [ops/s]
const names = Object.keys(contenders);
for (let run = -1; run < RUNS; run++) {
  // Rotate the order every run so no contender always goes first (warm caches, a quiet machine).
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

// ---- decoder against redis-parser, same bytes -----------------------------
const wire = Buffer.from(
  Array.from({ length: 20_000 }, (_, i) =>
    i % 4 === 0
      ? `*3\r\n$5\r\nfield\r\n:${i}\r\n$-1\r\n`
      : i % 4 === 1
        ? `$${String(i).length + 6}\r\nvalue:${i}\r\n`
        : i % 4 === 2
          ? `+OK\r\n`
          : `$100\r\n${"x".repeat(100)}\r\n`,
  ).join(""),
);
const CHUNK = 64 * 1024;
// Each decoder gets what its socket layer hands it: plain Uint8Arrays for
// ours (the web-stream adapters), Buffers for redis-parser. Ours decodes
// text as the client does on Node: with adapter-node's native UTF-8 decoder.
const chunks = [];
const bufferChunks = [];
for (let i = 0; i < wire.length; i += CHUNK) {
  bufferChunks.push(wire.subarray(i, i + CHUNK));
  chunks.push(new Uint8Array(wire.subarray(i, i + CHUNK)));
}
const decodeUtf8 = utf8DecoderOf(createConnect());
const decoders = {
  sockkit() {
    let n = 0;
    const d = new RespDecoder({ onReply: () => n++, decodeUtf8 });
    for (const c of chunks) d.feed(c);
    return n;
  },
  "redis-parser"() {
    let n = 0;
    const p = new RedisParser({
      returnReply: () => n++,
      returnError: () => n++,
      returnFatalError: (e) => {
        throw e;
      },
    });
    for (const c of bufferChunks) p.execute(c);
    return n;
  },
};
const decodeResults = alternate(decoders, RUNS * 3, (name, fn) => {
  const t0 = process.hrtime.bigint();
  let replies = 0;
  for (let i = 0; i < 20; i++) replies += fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (replies !== 20 * 20_000) throw new Error(`${name} decoded ${replies} replies`);
  return (wire.length * 20) / 1024 / 1024 / seconds;
});

server.stop();

console.log(`\nRedis, ${machine()}, median of ${RUNS} alternated runs (ops/s)\n`);
console.log(`| row | sockkit | ioredis | node-redis | sockkit ÷ ioredis | sockkit ÷ node-redis |`);
console.log(`|---|---:|---:|---:|---:|---:|`);
for (const [row, byName] of Object.entries(results)) {
  const m = Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, median(v)]));
  console.log(
    `| ${row} | ${m.sockkit.toFixed(0)} | ${m.ioredis.toFixed(0)} | ${m["node-redis"].toFixed(0)} | ${(m.sockkit / m.ioredis).toFixed(2)} | ${(m.sockkit / m["node-redis"]).toFixed(2)} |`,
  );
}
const ds = median(decodeResults.sockkit);
const dp = median(decodeResults["redis-parser"]);
console.log(
  `\nDecoder, ${(wire.length / 1024 / 1024).toFixed(1)} MiB of mixed replies in 64 KiB chunks: sockkit ${ds.toFixed(0)} MiB/s, redis-parser ${dp.toFixed(0)} MiB/s, ratio ${(ds / dp).toFixed(2)}`,
);
