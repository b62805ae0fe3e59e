// The MQTT reconnection suite (brokers restarted mid-stream): a slow suite, run on Node 20 and in
// workerd only (see vitest.node.config.ts).
import { afterAll, expect, inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { mqttReconnectConformance } from "../../suites/mqtt-reconnect-conformance.js";

// Registered first so it runs last (after hooks run in reverse): after the suite has ended its clients.
afterAll(async () => {
  const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
  for (let i = 0; i < 40 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours()).toEqual([]);
});

mqttReconnectConformance({ runtime: "node", connect: createConnect(), mqtt: inject("mqtt") });
