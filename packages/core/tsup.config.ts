import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/redis/index.ts", "src/mqtt/index.ts", "src/transport/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  target: "es2022",
  sourcemap: true,
});
