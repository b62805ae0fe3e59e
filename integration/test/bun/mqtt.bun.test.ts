// The MQTT suite on Bun (the reconnection suite, which restarts brokers, runs on Node 20 and in workerd).
import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { trackedConnect } from "../../harness/leak-check.js";
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
