import { configDefaults, defineConfig } from "vitest/config";

// The slow suites (*.slow.node.test.ts: a Redis Cluster's failovers) run on the primary Node and in
// workerd; the Node 24 run (scripts/test.mjs sets SOCKKIT_SKIP_SLOW=1) leaves them out.
const skipSlow = process.env.SOCKKIT_SKIP_SLOW === "1";

export default defineConfig({
  test: {
    name: "node",
    root: import.meta.dirname,
    include: ["test/node/**/*.test.ts"],
    exclude: skipSlow ? [...configDefaults.exclude, "test/node/**/*.slow.node.test.ts"] : configDefaults.exclude,
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
