import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/bin.ts", "src/serve.ts"],
  format: ["esm"],
  dts: { entry: "src/serve.ts" },
  target: "es2022",
  sourcemap: true,
  banner: ({ format }) => (format === "esm" ? {} : {}),
});
