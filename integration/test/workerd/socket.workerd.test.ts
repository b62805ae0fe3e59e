import { connect } from "cloudflare:sockets";
import { expect, inject, it } from "vitest";
import type { Connect } from "@sockkit/core";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { WORKERD_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";

it("runs inside workerd", () => {
  expect((globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent).toBe("Cloudflare-Workers");
});

// The runtime's own connect() is a Connect without any wrapping.
const runtimeConnect: Connect = connect;
socketConformance({ runtime: "workerd", traits: WORKERD_TRAITS, connect: runtimeConnect, env: inject("sockets") });

patternsConformance({ runtime: "workerd", traits: WORKERD_TRAITS, connect: runtimeConnect, env: inject("sockets") });

destinationConformance({ runtime: "workerd", connect: runtimeConnect, env: inject("sockets") });
