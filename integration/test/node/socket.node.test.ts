import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { EMULATION_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";

const env = inject("sockets");
socketConformance({
  runtime: "node",
  traits: EMULATION_TRAITS,
  connect: createConnect({ tls: { ca: env.caCert } }),
  env,
});

patternsConformance({
  runtime: "node",
  traits: EMULATION_TRAITS,
  connect: createConnect({ tls: { ca: env.caCert } }),
  env,
});

destinationConformance({
  runtime: "node",
  connect: createConnect({ tls: { ca: env.caCert } }),
  env,
  withResolver: (resolve, policy) => createConnect({ tls: { ca: env.caCert }, resolve, policy }),
  edgeRules: createConnect({ edgeRules: true }),
});
