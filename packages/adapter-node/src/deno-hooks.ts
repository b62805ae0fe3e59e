// `cloudflare:sockets` on Deno: synchronous module hooks (`module.registerHooks`, in Deno 2.9), which
// Deno applies to npm dependencies too (an import map reaches only the app's own modules).
import Module from "node:module";

interface ResolveContext {
  conditions?: string[];
}
type Resolve = (
  specifier: string,
  context: ResolveContext,
  nextResolve: (specifier: string, context: ResolveContext) => unknown,
) => unknown;

const ESM = new URL("./index.js", import.meta.url).href;
const CJS = new URL("./index.cjs", import.meta.url).href;

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
