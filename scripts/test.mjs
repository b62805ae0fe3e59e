// The whole test command (`npm test`): build, static checks, then every suite
// on every runtime. Fails on the first failing step and ends with one
// "N passed, N failed" line summed over all Vitest runs. The test services
// (socket servers, Redis, MQTT brokers) are started once, in Node, for all runs.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { ensureRuntime } from "./ensure-runtime.mjs";

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

/**
 * One Vitest run of `config` on `runtime` (a Node, Bun or Deno binary; `runArgs` go before Vitest's
 * path, e.g. Deno's `run -A`), with the shared services and `env` in its environment.
 */
function suite(title, config, { runtime = process.execPath, runArgs = [], env = {} } = {}) {
  const report = join(reports, `${title.replace(/\W+/g, "-")}.json`);
  let total = 0;
  const count = () => {
    if (!existsSync(report)) return; // the run died before reporting
    const { numPassedTests, numFailedTests, numTotalTests } = JSON.parse(readFileSync(report, "utf8"));
    totals.passed += numPassedTests;
    totals.failed += numFailedTests;
    total = numTotalTests;
  };
  const args = [
    ...runArgs,
    vitest,
    "run",
    "--config",
    config,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
  ];
  run(title, runtime, args, { env: { ...process.env, ...services.env, ...env } }, count);
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
const node24 = ensureRuntime("node", "24");
const bun = ensureRuntime("bun", "1");
const deno = ensureRuntime("deno", "2");
const services = await startServices();
const nodeMajor = (node) =>
  execFileSync(node, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim();
const expectNode = (node) => ({ SOCKKIT_EXPECT_NODE_MAJOR: nodeMajor(node) });

suite("core unit tests (Node " + process.versions.node + ")", "packages/core/vitest.config.ts");
suite("Node suites on Node " + process.versions.node, "integration/vitest.node.config.ts", {
  env: expectNode(process.execPath),
});
// Node 24, Bun and Deno run the conformance-level suites; the slow ones (broker restarts, a Redis
// Cluster's failovers, the page, `wrangler dev`) run on Node 20 above and in workerd below.
suite("conformance-level Node suites on Node 24", "integration/vitest.node.config.ts", {
  runtime: node24,
  env: { ...expectNode(node24), SOCKKIT_SUITES: "conformance" },
});
suite("conformance-level suites on Bun", "integration/vitest.bun.config.ts", { runtime: bun });
suite("conformance-level suites on Deno", "integration/vitest.deno.config.ts", {
  runtime: deno,
  runArgs: ["run", "-A"],
});
suite("Vitest helper (cloudflare:sockets in tests and dependencies)", "integration/vitest.helper.config.ts");
suite("conformance in workerd", "integration/vitest.workerd.config.ts");
await services.stop();
summary();

/**
 * Starts harness/services-main.ts (bundled by esbuild: Node 20 cannot load TypeScript) and waits
 * until it has written the services' addresses. They stop when this command ends, however it ends.
 */
async function startServices() {
  const t0 = Date.now();
  console.log("\n=== test services (started once for every run below)");
  const script = join(reports, "services.mjs");
  const addresses = join(reports, "services.json");
  await build({
    entryPoints: [join(root, "integration/harness/node/services-main.ts")],
    outfile: script,
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "warning",
  });
  const child = spawn(process.execPath, [script, addresses], { cwd: root, stdio: ["pipe", "inherit", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.on("exit", () => child.kill("SIGTERM"));
  const deadline = Date.now() + 120_000;
  while (!existsSync(addresses)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      console.error(`\n=== FAILED: test services (${child.exitCode === null ? "not ready within 120 s" : "exited"})`);
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`=== ok: test services (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  return {
    env: { SOCKKIT_SERVICES: addresses },
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
