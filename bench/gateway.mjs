// `npm run bench` (gateway part): the gateway served on Node (@sockkit/cli's
// serveGateway), 1,000 GET /probe/redis at concurrency 50 against a
// redis-server started here; reports throughput and p50/p99 latency.
import { serveGateway } from "@sockkit/cli";
import { startRedisServer } from "./servers.mjs";
import { machine, median } from "./stats.mjs";

const REQUESTS = Number(process.env.BENCH_GATEWAY_REQUESTS ?? 1000);
const CONCURRENCY = 50;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const redis = await startRedisServer();
const { port } = redis;
// No request log: 6,000 JSON lines on stdout would be the bench's output.
const gateway = await serveGateway({
  port: 0,
  log: false,
  allow: [{ host: "127.0.0.1", ports: port }],
  limits: { maxConcurrentPerClient: CONCURRENCY },
});
const url = `${gateway.url}/probe/redis?host=127.0.0.1&port=${port}`;

const runs = [];
for (let run = -1; run < RUNS; run++) {
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
  if (run >= 0)
    runs.push({
      rps: REQUESTS / seconds,
      p50: latencies[Math.floor(latencies.length * 0.5)],
      p99: latencies[Math.floor(latencies.length * 0.99)],
      errors,
    });
}
await gateway.close();
redis.stop();

console.log(`\nGateway, ${machine()}, median of ${RUNS} runs`);
console.log(
  `${REQUESTS} GET /probe/redis at concurrency ${CONCURRENCY} (each opens, PINGs and closes a Redis connection):`,
);
console.log(
  `  ${median(runs.map((r) => r.rps)).toFixed(0)} requests/s, p50 ${median(runs.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(runs.map((r) => r.p99)).toFixed(1)} ms, errors ${runs.reduce((n, r) => n + r.errors, 0)}`,
);
