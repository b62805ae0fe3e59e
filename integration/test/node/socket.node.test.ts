import { afterAll, expect, inject } from "vitest";
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

afterAll(async () => {
  // Leak check on the client side: no socket or timer of ours is left. A
  // destroyed socket's handle closes a turn of the loop later, so poll briefly.
  const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
  for (let i = 0; i < 20 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours()).toEqual([]);
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
