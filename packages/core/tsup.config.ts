import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/adapter.ts", "src/redis/index.ts", "src/mqtt/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  target: "es2022",
  // Shared modules go to chunks in CJS too (tsup splits only ESM by default): one copy of the error
  // classes for every entry, so instanceof holds across /redis, /mqtt and the root under require().
  splitting: true,
});
