import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { mqttConformance } from "../../suites/mqtt-conformance.js";
import { mqttReconnectConformance } from "../../suites/mqtt-reconnect-conformance.js";

mqttConformance({ runtime: "workerd", connect, mqtt: inject("mqtt") });
mqttReconnectConformance({ runtime: "workerd", connect, mqtt: inject("mqtt") });
