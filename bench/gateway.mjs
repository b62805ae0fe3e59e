// `npm run bench` (gateway part): the gateway served on Node (@sockkit/cli's
// serveGateway), 1,000 GET /probe/redis at concurrency 50 against a
// redis-server started here; reports throughput and p50/p99 latency.
import { spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";
import { serveGateway } from "@sockkit/cli";

const REQUESTS = Number(process.env.BENCH_GATEWAY_REQUESTS ?? 1000);
const CONCURRENCY = 50;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const port = await freePort();
const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
await waitForPort(port);
const gateway = await serveGateway({ port: 0, allow: [{ host: "127.0.0.1", ports: port }], limits: { maxConcurrentPerClient: CONCURRENCY } });
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
  if (run >= 0) runs.push({ rps: REQUESTS / seconds, p50: latencies[Math.floor(latencies.length * 0.5)], p99: latencies[Math.floor(latencies.length * 0.99)], errors });
}
await gateway.close();
redis.kill("SIGKILL");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nGateway, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, median of ${RUNS} runs`);
console.log(`${REQUESTS} GET /probe/redis at concurrency ${CONCURRENCY} (each opens, PINGs and closes a Redis connection):`);
console.log(`  ${median(runs.map((r) => r.rps)).toFixed(0)} requests/s, p50 ${median(runs.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(runs.map((r) => r.p99)).toFixed(1)} ms, errors ${runs.reduce((n, r) => n + r.errors, 0)}`);

async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port: p } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return p;
}

async function waitForPort(p) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(p, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("redis-server did not start");
}
