import { configDefaults, defineConfig } from "vitest/config";

/**
 * The slow suites (brokers restarted mid-stream, a Redis Cluster's failovers, the page in Chromium,
 * `wrangler dev`): `npm test` runs
 * them on Node 20 (and their workerd counterparts in workerd) only. SOCKKIT_SUITES=conformance leaves
 * them out, for the run on Node 24.
 */
export const SLOW_SUITES = [
  "test/node/mqtt-reconnect.node.test.ts",
  "test/node/redis-cluster-failover.node.test.ts",
  "test/node/page.node.test.ts",
  "test/node/wrangler-dev.node.test.ts",
];

const suites = process.env.SOCKKIT_SUITES ?? "all";
if (suites !== "all" && suites !== "conformance") {
  throw new Error(`SOCKKIT_SUITES must be "all" (the default) or "conformance", got ${JSON.stringify(suites)}`);
}

export default defineConfig({
  test: {
    name: "node",
    root: import.meta.dirname,
    include: ["test/node/**/*.test.ts"],
    exclude: suites === "conformance" ? [...configDefaults.exclude, ...SLOW_SUITES] : configDefaults.exclude,
    globalSetup: [
      "harness/node/global-setup.ts",
      "harness/node/redis-setup.ts",
      "harness/node/redis-cluster-setup.ts",
      "harness/node/mqtt-setup.ts",
    ],
    // Every file ends with a leak check: no socket or timer of ours is left.
    setupFiles: ["harness/node/leak-check.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
