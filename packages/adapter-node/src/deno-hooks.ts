// `cloudflare:sockets` on Deno: synchronous module hooks (`module.registerHooks`, in Deno 2.9), which
// Deno applies to npm dependencies too (an import map reaches only the app's own modules). It resolves
// to @sockkit/adapter-deno (Deno's own sockets, faster here than the node:net emulation: bench/RESULTS.md).
import Module, { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

interface ResolveContext {
  conditions?: string[];
}
type Resolve = (
  specifier: string,
  context: ResolveContext,
  nextResolve: (specifier: string, context: ResolveContext) => unknown,
) => unknown;

// Resolved from this package, which depends on it.
const ESM = import.meta.resolve("@sockkit/adapter-deno");
const CJS = pathToFileURL(createRequire(import.meta.url).resolve("@sockkit/adapter-deno")).href;

/** Registers the hooks once per process. */
export function installDenoHooks(): void {
  const { registerHooks } = Module as unknown as { registerHooks?: (hooks: { resolve: Resolve }) => unknown };
  if (typeof registerHooks !== "function") {
    throw new Error("@sockkit/adapter-node/register needs module.registerHooks (Deno 2.9 or later)");
  }
  const state = globalThis as { [installed]?: true };
  if (state[installed]) return;
  state[installed] = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier !== "cloudflare:sockets") return nextResolve(specifier, context);
      // require() gets the CommonJS build: Deno's require() of this ESM build misses its dependencies.
      const cjs = context.conditions?.includes("require") === true;
      return { url: cjs ? CJS : ESM, format: cjs ? "commonjs" : "module", shortCircuit: true };
    },
  });
}

const installed = Symbol.for("sockkit.adapter-node.deno-hooks");
