// `npm run bench` (gateway part): the gateway served on Node (@sockkit/cli's
// serveGateway), 1,000 GET /probe/redis at concurrency 50 against a
// redis-server started here; reports throughput and p50/p99 latency.
// Two gateways, alternated run by run: one without its request log, one with it (each JSON line
// built and handed to a sink that drops it, so the terminal's speed is not measured).
import { serveGateway } from "@sockkit/cli";
import { startRedisServer } from "./servers.mjs";
import { machine, median } from "./stats.mjs";

const REQUESTS = Number(process.env.BENCH_GATEWAY_REQUESTS ?? 1000);
const CONCURRENCY = 50;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const redis = await startRedisServer();
const { port } = redis;
let logged = 0;
const serve = (log) =>
  serveGateway({
    port: 0,
    log,
    allow: [{ host: "127.0.0.1", ports: port }],
    limits: { maxConcurrentPerClient: CONCURRENCY },
  });
const variants = [
  { name: "no request log", gateway: await serve(false), runs: [] },
  {
    name: "request log (JSON lines, dropped)",
    gateway: await serve((entry) => (logged += JSON.stringify(entry).length > 0)),
    runs: [],
  },
];

async function round(url) {
  const latencies = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        const started = performance.now();
        const response = await fetch(url);
        await response.arrayBuffer();
        if (response.status !== 200) errors++;
        latencies.push(performance.now() - started);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: REQUESTS / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    errors,
  };
}

for (let run = -1; run < RUNS; run++) {
  for (const variant of run % 2 === 0 ? variants : [...variants].reverse()) {
    const result = await round(`${variant.gateway.url}/probe/redis?host=127.0.0.1&port=${port}`);
    if (run >= 0) variant.runs.push(result);
  }
}
for (const { gateway } of variants) await gateway.close();
redis.stop();

console.log(`\nGateway, ${machine()}, median of ${RUNS} runs, alternated`);
console.log(
  `${REQUESTS} GET /probe/redis at concurrency ${CONCURRENCY} (each opens, PINGs and closes a Redis connection):`,
);
for (const { name, runs } of variants)
  console.log(
    `  ${name}: ${median(runs.map((r) => r.rps)).toFixed(0)} requests/s, p50 ${median(runs.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(runs.map((r) => r.p99)).toFixed(1)} ms, errors ${runs.reduce((n, r) => n + r.errors, 0)}`,
  );
const [off, on] = variants.map(({ runs }) => median(runs.map((r) => r.rps)));
console.log(`  with the log / without: ${(on / off).toFixed(2)}x (${logged} lines built)`);
