import { fileURLToPath } from "node:url";

/** Options for {@link cloudflareSockets}. */
export interface CloudflareSocketsPluginOptions {
  /**
   * Also prefer packages' `workerd` export condition in test workers, so
   * dependencies load their Workers build.
   * @default false
   */
  workerdCondition?: boolean;
}

/** The subset of a Vite plugin this helper fills in (kept structural so no Vite types are needed). */
export interface CloudflareSocketsPlugin {
  name: string;
  enforce: "pre";
  config(): { test: { execArgv: string[] } };
  resolveId(id: string): string | undefined;
}

const here = import.meta.url;

/**
 * Vitest plugin: `cloudflare:sockets` resolves to the Node emulation in test
 * files and source (through Vite), and in dependencies Vitest leaves to Node
 * (through `--import .../register` in the test workers' `execArgv`).
 *
 * ```ts
 * import { cloudflareSockets } from "@sockkit/adapter-node/vitest";
 * export default defineConfig({ plugins: [cloudflareSockets()] });
 * ```
 */
export function cloudflareSockets(options: CloudflareSocketsPluginOptions = {}): CloudflareSocketsPlugin {
  const register = fileURLToPath(
    new URL(options.workerdCondition ? "./register-workerd.js" : "./register.js", here),
  );
  const emulation = fileURLToPath(new URL("./index.js", here));
  return {
    name: "sockkit:cloudflare-sockets",
    enforce: "pre",
    config() {
      return { test: { execArgv: ["--import", register] } };
    },
    resolveId(id) {
      return id === "cloudflare:sockets" ? emulation : undefined;
    },
  };
}
