// `npm run bench` (Bun and Deno part): @sockkit/adapter-node on Bun and on Deno against each runtime's
// own sockets (Bun.connect, Deno.connect) and its node:net, alternated in one process per runtime
// (bench/runtime-sockets.mjs), median of BENCH_RUNS. The peer is bench/server.mjs, in Node.
// The native adapters (@sockkit/adapter-bun / -deno) run in the same alternation: issue #20 has them
// where adapter-node is under 0.8x of the raw round trips or 0.9x of the raw throughput.
import { spawn, execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { ensureRuntime } from "../scripts/ensure-runtime.mjs";
import { median } from "./stats.mjs";

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const runtimes = [
  { name: "Bun", bin: ensureRuntime("bun", "1"), args: [], raw: "./raw-bun.mjs", native: "@sockkit/adapter-bun" },
  {
    name: "Deno",
    bin: ensureRuntime("deno", "2"),
    args: ["run", "-A", "--v8-flags=--expose-gc"],
    raw: "./raw-deno.mjs",
    native: "@sockkit/adapter-deno",
  },
];

const server = spawn(process.execPath, [here("./server.mjs"), String(256 * 1024 * 1024)], {
  stdio: ["pipe", "pipe", "inherit"],
});
const ports = await new Promise((resolve, reject) => {
  server.stdout.once("data", (line) => resolve(JSON.parse(String(line))));
  server.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
});

const results = [];
try {
  for (const runtime of runtimes) {
    // "1.4.5" (Bun), "deno 2.9.6 (stable, ...)" (Deno): the version number alone.
    const version = /\d+\.\d+\.\d+/.exec(execFileSync(runtime.bin, ["--version"], { encoding: "utf8" }))[0];
    process.stderr.write(`${runtime.name} (${version}):\n`);
    const out = execFileSync(
      runtime.bin,
      [
        ...runtime.args,
        here("./runtime-sockets.mjs"),
        runtime.raw,
        runtime.native,
        String(ports.download),
        String(ports.echo),
      ],
      { cwd: here(".."), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
    );
    results.push({ ...runtime, version, ...JSON.parse(out.trim().split("\n").at(-1)) });
  }
} finally {
  server.stdin.end();
}

const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
console.log(
  `\n${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} × ${cpu} · ${os.platform()} ${os.release()}`,
);
const first = results[0];
console.log(
  `median of ${first.runs} alternated runs per runtime; download ${first.downloadBytes / 1024 / 1024} MiB, ping-pong ${first.roundTrips} × 16 B round trips\n`,
);
console.log("| runtime | client | download MiB/s | × raw | round trips/s | × raw | client CPU µs per round trip |");
console.log("|---|---|---:|---:|---:|---:|---:|");
const verdicts = [];
for (const r of results) {
  const rawDownload = median(r.samples[r.raw].download);
  const rawPingPong = median(r.samples[r.raw].pingpong);
  for (const [client, s] of Object.entries(r.samples)) {
    const d = median(s.download);
    const p = median(s.pingpong);
    console.log(
      `| ${r.name} ${r.version} | ${client} | ${d.toFixed(0)} | ${(d / rawDownload).toFixed(2)} | ${p.toFixed(0)} | ${(p / rawPingPong).toFixed(2)} | ${median(s.cpu).toFixed(1)} |`,
    );
  }
  for (const adapter of ["@sockkit/adapter-node", r.native]) {
    const s = r.samples[adapter];
    verdicts.push([`${r.name}: ${adapter} throughput >= 0.9x ${r.raw}`, median(s.download) / rawDownload >= 0.9]);
    verdicts.push([`${r.name}: ${adapter} round trips >= 0.8x ${r.raw}`, median(s.pingpong) / rawPingPong >= 0.8]);
  }
}
console.log("");
for (const [what, ok] of verdicts) console.log(`${ok ? "met " : "MISSED"}  ${what}`);
