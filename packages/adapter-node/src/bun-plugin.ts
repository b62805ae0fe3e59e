// `cloudflare:sockets` on Bun: a runtime plugin (Bun.plugin) whose virtual module re-exports
// @sockkit/adapter-bun (Bun's own sockets, faster here than the node:net emulation: bench/RESULTS.md),
// for static `import`, `import()` and `require()`, in app code and dependencies alike.
import { fileURLToPath } from "node:url";

interface BunPluginBuilder {
  module(specifier: string, load: () => { contents: string; loader: "js" }): void;
}
interface BunGlobal {
  plugin(plugin: { name: string; setup(build: BunPluginBuilder): void }): void;
}

// Resolved from this package, which depends on it.
const NATIVE = fileURLToPath(import.meta.resolve("@sockkit/adapter-bun"));

/** Registers the plugin once per process. */
export function installBunPlugin(): void {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  if (!bun) throw new Error("@sockkit/adapter-node: the Bun loader was loaded outside Bun");
  const state = globalThis as { [installed]?: true };
  if (state[installed]) return;
  state[installed] = true;
  bun.plugin({
    name: "sockkit:cloudflare-sockets",
    setup(build) {
      // Re-exported rather than handed over as an object, so the app and `@sockkit/adapter-bun`
      // share one module instance.
      build.module("cloudflare:sockets", () => ({
        contents: `export * from ${JSON.stringify(NATIVE)};`,
        loader: "js",
      }));
    },
  });
}

const installed = Symbol.for("sockkit.adapter-node.bun-plugin");
