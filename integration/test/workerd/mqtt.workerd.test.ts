import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { mqttConformance } from "../../suites/mqtt-conformance.js";

mqttConformance({ runtime: "workerd", connect, mqtt: inject("mqtt") });
