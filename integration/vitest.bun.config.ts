import { defineConfig } from "vitest/config";

// The conformance-level suites on Bun: run Vitest itself with bun (`bun node_modules/vitest/vitest.mjs run --config ...`),
// and its forked test workers are Bun too.
export default defineConfig({
  test: {
    name: "bun",
    root: import.meta.dirname,
    include: ["test/bun/**/*.test.ts"],
    globalSetup: ["harness/node/global-setup.ts", "harness/node/redis-setup.ts", "harness/node/mqtt-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
