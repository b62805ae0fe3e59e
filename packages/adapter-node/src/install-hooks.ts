import Module, { register } from "node:module";
import { fileURLToPath } from "node:url";
import type { HooksData } from "./loader-hooks.js";

const CJS_EMULATION = fileURLToPath(new URL("./index.cjs", import.meta.url));

type ResolveFilename = (request: string, ...rest: unknown[]) => string;

/**
 * Makes `cloudflare:sockets` load the Node emulation: for `import` and
 * `import()` through module.register() hooks, and for `require()` by
 * wrapping the CommonJS resolver (Node 20 has no synchronous hooks).
 */
export function installHooks(data: HooksData): void {
  register("./loader-hooks.js", import.meta.url, { data });
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename & { sockkit?: true } };
  if (cjs._resolveFilename.sockkit) return;
  const original = cjs._resolveFilename;
  const patched: ResolveFilename & { sockkit?: true } = function (this: unknown, request, ...rest) {
    if (request === "cloudflare:sockets") return CJS_EMULATION;
    return original.call(this, request, ...rest);
  };
  patched.sockkit = true;
  cjs._resolveFilename = patched;
}
