import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts", "src/vitest.ts"],
    format: ["esm", "cjs"],
    dts: true,
    shims: true,
    target: "node20",
    external: ["vitest", "@sockkit/core"],
    // One copy of shared modules for both CJS entries too (tsup splits only ESM by default).
    splitting: true,
  },
  {
    entry: [
      "src/register.ts",
      "src/register-workerd.ts",
      "src/loader-hooks.ts",
      "src/register-bun.ts",
      "src/register-workerd-bun.ts",
      "src/register-deno.ts",
      "src/register-workerd-deno.ts",
    ],
    format: ["esm"],
    dts: true,
    target: "node20",
  },
]);
