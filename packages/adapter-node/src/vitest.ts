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
  config(): Record<string, unknown>;
  resolveId(id: string): string | undefined;
}

// Vite's default server conditions (what `resolve.conditions` means when unset);
// setting the option replaces them, so the workerd variant lists them again.
const VITE_SERVER_CONDITIONS = ["module", "node", "development|production"];
const VITE_EXTERNAL_CONDITIONS = ["node", "module", "development|production"];

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
  const register = fileURLToPath(new URL(options.workerdCondition ? "./register-workerd.js" : "./register.js", here));
  const emulation = fileURLToPath(new URL("./index.js", here));
  return {
    name: "sockkit:cloudflare-sockets",
    enforce: "pre",
    config() {
      const config: Record<string, unknown> = { test: { execArgv: ["--import", register] } };
      if (options.workerdCondition) {
        config.ssr = {
          resolve: {
            conditions: ["workerd", ...VITE_SERVER_CONDITIONS],
            externalConditions: ["workerd", ...VITE_EXTERNAL_CONDITIONS],
          },
        };
      }
      return config;
    },
    resolveId(id) {
      return id === "cloudflare:sockets" ? emulation : undefined;
    },
  };
}
