import diagnostics from "node:diagnostics_channel";
import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { gatewayConformance } from "../../suites/gateway-conformance.js";
import { gatewayConsoleConformance } from "../../suites/gateway-console-conformance.js";
import { gatewayPolicyConformance } from "../../suites/gateway-policy-conformance.js";
import { gatewayTelemetryConformance } from "../../suites/gateway-telemetry-conformance.js";
import { gatewayTracingConformance } from "../../suites/gateway-tracing-conformance.js";

gatewayConformance({
  runtime: "workerd",
  connect,
  sockets: inject("sockets"),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
});

gatewayPolicyConformance({ runtime: "workerd", connect, redis: inject("redis"), mqtt: inject("mqtt") });

gatewayTelemetryConformance({
  runtime: "workerd",
  connect,
  sockets: inject("sockets"),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
});

gatewayConsoleConformance({
  runtime: "workerd",
  connect,
  sockets: inject("sockets"),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
});

gatewayTracingConformance({
  runtime: "workerd",
  connect: connect,
  diagnostics,
  sockets: inject("sockets"),
  redis: inject("redis"),
});
