import diagnostics from "node:diagnostics_channel";
import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { tracingConformance } from "../../suites/tracing-conformance.js";

tracingConformance({
  runtime: "node",
  connect: createConnect(),
  diagnostics,
  redis: inject("redis"),
  mqtt: inject("mqtt"),
});
