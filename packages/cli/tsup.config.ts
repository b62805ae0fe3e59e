import { defineConfig } from "tsup";

export default defineConfig([
  // The library entry (serveGateway) for both module systems, like every other package.
  { entry: ["src/serve.ts"], format: ["esm", "cjs"], dts: true, target: "es2022" },
  // The executable is run, never required: ESM only.
  { entry: ["src/bin.ts"], format: ["esm"], target: "es2022" },
]);
