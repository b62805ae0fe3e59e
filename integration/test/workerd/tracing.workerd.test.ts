// adapter-workers' connect, which finds node:diagnostics_channel when the Worker runs with nodejs_compat.
import diagnostics from "node:diagnostics_channel";
import { describe, expect, inject, it } from "vitest";
import { connect } from "@sockkit/adapter-workers";
import { diagnosticsChannel, tracingOf, type TraceableConnect } from "@sockkit/core/adapter";
import { tracingConformance } from "../../suites/tracing-conformance.js";

tracingConformance({
  runtime: "workerd",
  connect,
  diagnostics,
  redis: inject("redis"),
  mqtt: inject("mqtt"),
});

describe("adapter-workers without nodejs_compat", () => {
  it("has no diagnostics_channel to offer, and nothing asks for one: the clients trace nothing", () => {
    const global = globalThis as { process?: unknown };
    const saved = Object.getOwnPropertyDescriptor(globalThis, "process");
    try {
      // What a Worker without the flag has: no `process` global.
      Object.defineProperty(globalThis, "process", { value: undefined, configurable: true, writable: true });
      expect(global.process).toBeUndefined();
      expect((connect as TraceableConnect)[diagnosticsChannel]).toBeUndefined();
      expect(tracingOf(connect)).toBeUndefined();
    } finally {
      if (saved) Object.defineProperty(globalThis, "process", saved);
    }
    expect(tracingOf(connect)).toBeDefined();
  });
});
