import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    root: import.meta.dirname,
    include: ["test/node/**/*.test.ts"],
    globalSetup: ["harness/global-setup.ts", "harness/redis-setup.ts", "harness/mqtt-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
