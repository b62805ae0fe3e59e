// `npm run bench:tracing -- <other checkout>/packages`: instructions (callgrind) that the Redis and
// MQTT rows of bench/tracing-cost.mjs take with this checkout's built packages and with another's,
// alternated, three times each; valgrind is needed. Used to check that tracing with nobody subscribed
// costs nothing measurable (issue #21: within 2%).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnServer } from "./servers.mjs";
import { machine, median } from "./stats.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const ours = join(here, "../packages");
const theirs = process.argv[2];
if (!theirs) throw new Error("usage: node bench/callgrind.mjs <packages folder of the checkout to compare with>");
execFileSync("valgrind", ["--version"]); // fails first, with a clear error, where valgrind is missing
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const redisPort = await freePort();
const redis = await spawnServer(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  redisPort,
);
const mqttPort = await freePort();
const dir = mkdtempSync(join(os.tmpdir(), "sockkit-bench-callgrind-"));
writeFileSync(
  join(dir, "m.conf"),
  [
    `listener ${mqttPort} 127.0.0.1`,
    "allow_anonymous true",
    "max_inflight_messages 0",
    "max_queued_messages 0",
    ...(process.getuid?.() === 0 ? ["user root"] : []),
  ].join("\n") + "\n",
);
const mosquitto = await spawnServer("mosquitto", ["-c", join(dir, "m.conf")], mqttPort);

function instructions(packages, row) {
  const out = join(dir, "callgrind.out");
  const run = spawnSync(
    "valgrind",
    [
      "--tool=callgrind",
      `--callgrind-out-file=${out}`,
      process.execPath,
      join(here, "tracing-cost.mjs"),
      packages,
      String(redisPort),
      String(mqttPort),
    ],
    { encoding: "utf8", env: { ...process.env, TRACING_COST_ROWS: row } },
  );
  const collected = /Collected : (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !collected) throw new Error(`valgrind failed (${run.status}): ${run.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

const results = {};
try {
  for (const row of ["redis", "mqtt"]) {
    for (let run = 0; run < RUNS; run++) {
      for (const [name, packages] of run % 2 === 0
        ? [
            ["this", ours],
            ["other", theirs],
          ]
        : [
            ["other", theirs],
            ["this", ours],
          ]) {
        ((results[row] ??= {})[name] ??= []).push(instructions(packages, row));
      }
    }
  }
} finally {
  redis.kill("SIGTERM");
  mosquitto.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\nInstructions (callgrind), ${machine()}, median of ${RUNS} alternated runs\n`);
console.log("| row | this checkout | other checkout | this ÷ other | every run (this / other) |");
console.log("|---|---:|---:|---:|---|");
for (const [row, byName] of Object.entries(results)) {
  const [a, b] = [median(byName.this), median(byName.other)];
  console.log(
    `| ${row} | ${(a / 1e6).toFixed(1)} M | ${(b / 1e6).toFixed(1)} M | ${(a / b).toFixed(4)} | ${byName.this.map((x) => (x / 1e6).toFixed(1)).join(", ")} / ${byName.other.map((x) => (x / 1e6).toFixed(1)).join(", ")} |`,
  );
}
