import { cloudflareSockets } from "@sockkit/adapter-node/vitest";
import { defineConfig } from "vitest/config";

// Tests written for Workers, run on Node through the Vitest helper.
export default defineConfig({
  plugins: [cloudflareSockets({ workerdCondition: true })],
  test: {
    name: "vitest-helper",
    root: import.meta.dirname,
    include: ["test/helper/**/*.test.ts"],
    globalSetup: ["harness/node/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
  },
});
