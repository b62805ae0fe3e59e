import { defineConfig } from "tsup";

// One output file per source module, not one bundle per entry point: a Worker's bundler then drops
// every module the Worker does not reach (the package is "sideEffects": false), ipaddr.js with the
// destination policy's modules; and each module exists once, so the entry points share one copy of
// the error classes in both module systems. Declarations come from tsc (tsconfig.build.json).
export default defineConfig([
  { entry: ["src/**/*.ts"], format: ["esm"], bundle: false, target: "es2022", outDir: "dist" },
  {
    // CommonJS under dist/cjs, whose package.json says so: the files keep the .js names that
    // the sources' imports use.
    entry: ["src/**/*.ts"],
    format: ["cjs"],
    bundle: false,
    target: "es2022",
    outDir: "dist/cjs",
    outExtension: () => ({ js: ".js" }),
  },
]);
