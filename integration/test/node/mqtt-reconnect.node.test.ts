// The MQTT reconnection suite (brokers restarted mid-stream): a slow suite, run on Node 20 and in
// workerd only (see vitest.node.config.ts).
import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { mqttReconnectConformance } from "../../suites/mqtt-reconnect-conformance.js";

mqttReconnectConformance({ runtime: "node", connect: createConnect(), mqtt: inject("mqtt") });
