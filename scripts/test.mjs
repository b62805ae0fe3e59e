// The whole test command (`npm test`): build, static checks, then every suite
// on every runtime. Fails on the first failing step and ends with one
// "N passed, N failed" line summed over all Vitest runs.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureNode } from "./ensure-node.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const reports = join(root, ".reports");
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });
const vitest = join(root, "node_modules/vitest/vitest.mjs");
const totals = { passed: 0, failed: 0 };
const started = Date.now();

function run(title, command, args, options = {}, afterRun = () => {}) {
  console.log(`\n=== ${title}\n$ ${[command, ...args].join(" ")}`);
  const t0 = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  afterRun(); // counts a failing suite's tests too, so the summary line is true
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`\n=== FAILED: ${title} (${seconds}s, exit ${result.status ?? result.signal})`);
    summary();
    process.exit(1);
  }
  console.log(`=== ok: ${title} (${seconds}s)`);
}

function suite(title, config, node = process.execPath, env = {}) {
  const report = join(reports, `${title.replace(/\W+/g, "-")}.json`);
  const major = execFileSync(node, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim();
  let total = 0;
  const count = () => {
    if (!existsSync(report)) return; // the run died before reporting
    const { numPassedTests, numFailedTests, numTotalTests } = JSON.parse(readFileSync(report, "utf8"));
    totals.passed += numPassedTests;
    totals.failed += numFailedTests;
    total = numTotalTests;
  };
  const args = [
    vitest,
    "run",
    "--config",
    config,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
  ];
  run(title, node, args, { env: { ...process.env, SOCKKIT_EXPECT_NODE_MAJOR: major, ...env } }, count);
  if (total === 0) {
    console.error(`=== FAILED: ${title} ran no test`);
    process.exit(1);
  }
}

function summary() {
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  console.log(`\n(${minutes} min)`);
  console.log(`${totals.passed} passed, ${totals.failed} failed`);
}

const npx = process.platform === "win32" ? "npx.cmd" : "npx";
run("format (prettier --check)", npx, ["prettier", "--check", "--log-level=warn", "."]);
run("build, typecheck, lint (core purity, publint, attw)", npx, [
  "turbo",
  "run",
  "build",
  "typecheck",
  "lint",
  "--output-logs=errors-only",
]);
suite("core unit tests (Node " + process.versions.node + ")", "packages/core/vitest.config.ts");
suite("Node suites on Node " + process.versions.node, "integration/vitest.node.config.ts");
const node24 = ensureNode("24");
// The slow suites (*.slow.node.test.ts, a Redis Cluster's failovers) run on the primary Node and in workerd only.
suite("Node suites on Node 24 (slow suites left out)", "integration/vitest.node.config.ts", node24, {
  SOCKKIT_SKIP_SLOW: "1",
});
suite("Vitest helper (cloudflare:sockets in tests and dependencies)", "integration/vitest.helper.config.ts");
suite("conformance in workerd", "integration/vitest.workerd.config.ts");
summary();
