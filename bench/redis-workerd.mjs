// `npm run bench` (Redis in workerd): @sockkit/core/redis over @sockkit/adapter-workers against
// redis-on-workers, both inside workerd (Miniflare) on the real cloudflare:sockets, driven from
// Node because the Workers test pool has no benchmark mode. One redis-server started here;
// contenders alternated, the order rotated each run, median of RUNS after a warm-up. Each row is
// one request to the Worker: the clock (in Node) runs from dispatch to response and includes the
// request itself and the client's connection (sockkit's also a HELLO round trip; redis-on-workers
// sends none), so short rows understate the difference. A failure in any run, the warm-up
// included, marks the row as failed for that contender.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { startRedisServer } from "./servers.mjs";
import { machine, median } from "./stats.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
// redis-on-workers makes every command wait on all commands in flight (Promise.all over its
// whole queue), which is quadratic in the concurrent row: kept at 5,000 so it finishes.
const rows = [
  ["sequential GET ×5000", "sequential", 5000],
  ["5000 concurrent GETs", "concurrent", 5000],
  ["5000 GETs, 200 concurrent at a time", "batches", 5000],
  ["SET+GET 1 KiB ×1000 (sequential)", "kib", 1000],
  ["SET+GET 1 MiB ×50 (sequential)", "mib", 50],
].filter(([, row]) => !process.env.BENCH_ROWS || process.env.BENCH_ROWS.split(",").includes(row));
const names = ["sockkit", "redis-on-workers"];

const server = await startRedisServer();
const bundle = await build({
  entryPoints: [fileURLToPath(new URL("./workerd/redis-worker.mjs", import.meta.url))],
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  // redis-on-workers falls back to a dynamic import of the Node polyfill, never reached here: we hand it connect.
  external: ["cloudflare:sockets", "@arrowood.dev/socket"],
  logLevel: "error",
});
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.outputFiles[0].text }],
  compatibilityDate: "2026-04-01",
  bindings: { REDIS_PORT: String(server.port) },
});

const results = {}; // row -> contender -> [ops/s]
const failures = {}; // row -> contender -> first error
try {
  const setup = await mf.dispatchFetch(`http://bench/?client=sockkit&row=setup&n=5000`);
  if (setup.status !== 200) throw new Error(`setting the keys failed: ${await setup.text()}`);
  for (let run = -1; run < RUNS; run++) {
    const order = names.map((_, i) => names[(i + Math.max(run, 0)) % names.length]);
    for (const name of order) {
      for (const [label, row, n] of rows) {
        const t0 = process.hrtime.bigint();
        const res = await mf.dispatchFetch(`http://bench/?client=${encodeURIComponent(name)}&row=${row}&n=${n}`);
        const body = await res.text();
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        // A contender that fails a row is reported as failing it, not timed.
        if (res.status !== 200 || JSON.parse(body).done !== n)
          (failures[label] ??= {})[name] ??= body.split("\n")[0].slice(0, 120);
        else if (run >= 0) ((results[label] ??= {})[name] ??= []).push(n / seconds);
      }
    }
    process.stderr.write(`workerd redis run ${run + 1}/${RUNS} done\n`);
  }
} finally {
  await mf.dispose();
  server.stop();
}

console.log(
  `\nRedis in workerd (Miniflare ${(await import("miniflare/package.json", { with: { type: "json" } })).default.version}) · ${machine()}`,
);
console.log(`median of ${RUNS} alternated runs, operations per second\n`);
console.log("| row | sockkit | redis-on-workers | sockkit ÷ redis-on-workers |");
console.log("|---|---:|---:|---:|");
const cell = (label, name) => (failures[label]?.[name] ? "fails" : median(results[label][name]).toFixed(0));
for (const [label] of rows) {
  const [s, r] = names.map((name) => cell(label, name));
  const ratio = s === "fails" || r === "fails" ? "–" : `**${(Number(s) / Number(r)).toFixed(2)}**`;
  console.log(`| ${label} | ${s} | ${r} | ${ratio} |`);
}
for (const [label, byName] of Object.entries(failures)) {
  for (const [name, error] of Object.entries(byName)) console.log(`\n${name} fails "${label}": ${error}`);
}
if (Object.values(failures).some((byName) => byName.sockkit)) process.exitCode = 1;
