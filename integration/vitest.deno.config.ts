import { defineConfig } from "vitest/config";

// The conformance-level suites on Deno: run Vitest itself with deno (`deno run -A node_modules/vitest/vitest.mjs run --config ...`),
// and its forked test workers are Deno too.
export default defineConfig({
  test: {
    name: "deno",
    root: import.meta.dirname,
    include: ["test/deno/**/*.test.ts"],
    globalSetup: ["harness/node/global-setup.ts", "harness/node/redis-setup.ts", "harness/node/mqtt-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
