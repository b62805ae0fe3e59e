// The MQTT suite on Bun, through @sockkit/adapter-node, then through @sockkit/adapter-bun (Bun's own
// sockets). The reconnection suite, which restarts brokers, runs on Node 20 and in workerd.
import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { createConnect as createNativeConnect } from "@sockkit/adapter-bun";
import { trackedConnect } from "../../harness/node/tracked-connect.js";
import { mqttConformance } from "../../suites/mqtt-conformance.js";

// Bun reports no handles (process.getActiveResourcesInfo() is always empty): the client-side leak
// check here is that every socket the suite opened has settled its `closed` (trackedConnect).

const env = inject("mqtt");
mqttConformance({
  runtime: "bun",
  connect: trackedConnect(createConnect()),
  mqtt: env,
  tlsConnect: trackedConnect(createConnect({ tls: { ca: env.mosquittoTls.caCert } })),
  untrustingConnect: createConnect(),
});
mqttConformance({
  runtime: "bun-native",
  connect: trackedConnect(createNativeConnect()),
  mqtt: env,
  tlsConnect: trackedConnect(createNativeConnect({ tls: { ca: env.mosquittoTls.caCert } })),
  untrustingConnect: createNativeConnect(),
});
