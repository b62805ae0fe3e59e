// `deno run -A --preload npm:@sockkit/adapter-node/register` (and `--conditions=workerd --preload
// npm:…/register-workerd`) with unmodified Workers code.
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { loaderConformance } from "../../node-suites/loader-conformance.js";

// Deno has no flag for workerd's unhandled-rejection policy; a preload sets it.
const warnOnUnhandledRejections = fileURLToPath(
  new URL("../../fixtures/warn-unhandled-rejections.mjs", import.meta.url),
);

loaderConformance({
  runtime: "deno",
  command: (loader, script, args, options) => ({
    file: process.execPath,
    args: [
      "run",
      "-A",
      ...(options?.warnOnUnhandledRejections ? ["--preload", warnOnUnhandledRejections] : []),
      ...(loader === "register-workerd" ? ["--conditions=workerd"] : []),
      ...(loader ? ["--preload", `npm:@sockkit/adapter-node/${loader}`] : []),
      script,
      ...args,
    ],
  }),
  workerdConditionIsAFlag: true,
  matchesBunCondition: false,
  sockets: inject("sockets"),
  redis: inject("redis"),
});
