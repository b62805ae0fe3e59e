import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { mqttConformance } from "../../suites/mqtt-conformance.js";
import { mqttLimitsConformance } from "../../suites/mqtt-limits-conformance.js";
import { mqttReconnectConformance } from "../../suites/mqtt-reconnect-conformance.js";
import { mqttSessionConformance } from "../../suites/mqtt-session-conformance.js";

const mqtt = inject("mqtt");
mqttConformance({ runtime: "workerd", connect, mqtt });
mqttReconnectConformance({ runtime: "workerd", connect, mqtt });
mqttSessionConformance({ runtime: "workerd", connect, mqtt });
mqttLimitsConformance({ runtime: "workerd", connect, mqtt });
