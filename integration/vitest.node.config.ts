import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    root: import.meta.dirname,
    include: ["test/node/**/*.test.ts"],
    globalSetup: ["harness/node/global-setup.ts", "harness/node/redis-setup.ts", "harness/node/mqtt-setup.ts"],
    // Every file ends with a leak check: no socket or timer of ours is left.
    setupFiles: ["harness/node/leak-check.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
