// The MQTT suite on Deno (the reconnection suite, which restarts brokers, runs on Node 20 and in workerd).
import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { expectNoHandlesLeft, trackedConnect } from "../../harness/leak-check.js";
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
