import { configDefaults, defineConfig } from "vitest/config";

// The slow suites (*.slow.test.ts: a Redis Cluster's failovers) run on the primary Node and in
// workerd; the Node 24 run (scripts/test.mjs sets SOCKKIT_SKIP_SLOW=1) leaves them out.
const skipSlow = process.env.SOCKKIT_SKIP_SLOW === "1";

export default defineConfig({
  test: {
    name: "node",
    root: import.meta.dirname,
    include: ["test/node/**/*.test.ts"],
    exclude: skipSlow ? [...configDefaults.exclude, "test/node/**/*.slow.test.ts"] : configDefaults.exclude,
    globalSetup: [
      "harness/global-setup.ts",
      "harness/redis-setup.ts",
      "harness/redis-cluster-setup.ts",
      "harness/mqtt-setup.ts",
    ],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
