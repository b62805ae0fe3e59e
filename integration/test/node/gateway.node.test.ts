import diagnostics from "node:diagnostics_channel";
import { afterAll, expect, inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { loadSpecChecker } from "../../harness/node/openapi.js";
import { gatewayConformance } from "../../suites/gateway-conformance.js";
import { gatewayConsoleConformance } from "../../suites/gateway-console-conformance.js";
import { gatewayPolicyConformance } from "../../suites/gateway-policy-conformance.js";
import { gatewayTelemetryConformance } from "../../suites/gateway-telemetry-conformance.js";
import { gatewayTracingConformance } from "../../suites/gateway-tracing-conformance.js";

// Every response of the suite is checked against packages/gateway/openapi.yaml.
const spec = await loadSpecChecker();
afterAll(() => {
  expect(spec.unexercised(), "documented operations the suite never called").toEqual([]);
});

gatewayConformance({
  runtime: "node",
  connect: createConnect(),
  sockets: inject("sockets"),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
  observe: spec.check,
});

gatewayPolicyConformance({
  runtime: "node",
  connect: createConnect(),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
  observe: spec.check,
});

gatewayTelemetryConformance({
  runtime: "node",
  connect: createConnect(),
  sockets: inject("sockets"),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
  observe: spec.check,
});

gatewayConsoleConformance({
  runtime: "node",
  connect: createConnect(),
  sockets: inject("sockets"),
  redis: inject("redis"),
  mqtt: inject("mqtt"),
  observe: spec.check,
});

gatewayTracingConformance({
  runtime: "node",
  connect: createConnect(),
  diagnostics,
  sockets: inject("sockets"),
  redis: inject("redis"),
});
