import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { EMULATION_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";

const env = inject("sockets");
const nodeConnect = createConnect({ tls: { ca: env.caCert } });
socketConformance({
  runtime: "node",
  traits: EMULATION_TRAITS,
  connect: nodeConnect,
  env,
  tls: {
    // The emulation's close() gives up on a stalled handshake at once; under edgeRules it waits as workerd's does.
    closeDuringHandshake: [
      { name: "default", connect: nodeConnect, waits: false },
      {
        name: "edgeRules",
        connect: createConnect({ tls: { ca: env.caCert }, edgeRules: { refuseDestinations: false } }),
        waits: true,
      },
    ],
    writeAfterUnreadLoss: "rejects",
    closeDuringStartTlsHandshake: "drops",
  },
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
