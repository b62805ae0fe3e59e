// `bun --preload @sockkit/adapter-node/register` (and `--conditions=workerd --preload …/register-workerd`)
// with unmodified Workers code.
import { inject } from "vitest";
import { loaderConformance } from "../../node-suites/loader-conformance.js";

loaderConformance({
  runtime: "bun",
  command: (loader, script, args, options) => ({
    file: process.execPath,
    args: [
      ...(options?.warnOnUnhandledRejections ? ["--unhandled-rejections=warn"] : []),
      ...(loader === "register-workerd" ? ["--conditions=workerd"] : []),
      ...(loader ? ["--preload", `@sockkit/adapter-node/${loader}`] : []),
      script,
      ...args,
    ],
  }),
  workerdConditionIsAFlag: true,
  matchesBunCondition: true,
  sockets: inject("sockets"),
  redis: inject("redis"),
});
