// `node --import @sockkit/adapter-node/register` (and `/register-workerd`) with unmodified Workers code.
import { inject } from "vitest";
import { loaderConformance } from "../../node-suites/loader-conformance.js";

loaderConformance({
  runtime: "node",
  command: (loader, script, args, options) => ({
    file: process.execPath,
    args: [
      ...(options?.warnOnUnhandledRejections ? ["--unhandled-rejections=warn"] : []),
      ...(loader ? ["--import", `@sockkit/adapter-node/${loader}`] : []),
      script,
      ...args,
    ],
  }),
  workerdConditionIsAFlag: false,
  matchesBunCondition: false,
  sockets: inject("sockets"),
  redis: inject("redis"),
});
