import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The workerd build: ESM only, as Workers bundles expect.
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    target: "es2022",
    external: ["cloudflare:sockets", "@sockkit/core"],
  },
  {
    entry: ["src/outside-workerd.ts"],
    format: ["esm", "cjs"],
    dts: true,
    target: "es2022",
    external: ["@sockkit/core"],
  },
]);
