import { afterAll, expect, inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { socketConformance } from "../../suites/socket-conformance.js";

const env = inject("sockets");
const nodeConnect = createConnect({ tls: { ca: env.caCert } });
socketConformance({
  runtime: "node",
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
    startTlsThrowsWhenLocked: true,
  },
});

afterAll(async () => {
  // Leak check on the client side: no socket or timer of ours is left. A
  // destroyed socket's handle closes a turn of the loop later, so poll briefly.
  const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
  for (let i = 0; i < 20 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours()).toEqual([]);
});

patternsConformance({ runtime: "node", connect: createConnect({ tls: { ca: env.caCert } }), env });

destinationConformance({
  runtime: "node",
  connect: createConnect({ tls: { ca: env.caCert } }),
  env,
  withResolver: (resolve, policy) => createConnect({ tls: { ca: env.caCert }, resolve, policy }),
});
