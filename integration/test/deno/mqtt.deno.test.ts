// The MQTT suite on Deno, through @sockkit/adapter-node, then through @sockkit/adapter-deno (Deno's own
// sockets). The reconnection suite, which restarts brokers, runs on Node 20 and in workerd.
import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { createConnect as createNativeConnect } from "@sockkit/adapter-deno";
import { expectNoHandlesLeft, trackedConnect } from "../../harness/node/tracked-connect.js";
import { mqttConformance } from "../../suites/mqtt-conformance.js";

// Registered first so it runs last: no socket or timer of ours is left (Deno reports its handles).
expectNoHandlesLeft();

const env = inject("mqtt");
mqttConformance({
  runtime: "deno",
  connect: trackedConnect(createConnect()),
  mqtt: env,
  tlsConnect: trackedConnect(createConnect({ tls: { ca: env.mosquittoTls.caCert } })),
  untrustingConnect: createConnect(),
});
mqttConformance({
  runtime: "deno-native",
  connect: trackedConnect(createNativeConnect()),
  mqtt: env,
  tlsConnect: trackedConnect(createNativeConnect({ tls: { ca: env.mosquittoTls.caCert } })),
  untrustingConnect: createNativeConnect(),
});
