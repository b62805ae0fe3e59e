// The socket conformance, core patterns and destination policy suites on Bun, through
// @sockkit/adapter-node (its node:net and node:tls compatibility).
import { expect, inject, it } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { trackedConnect } from "../../harness/leak-check.js";
import { currentRuntime } from "../../harness/runtime.js";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { EMULATION_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";

// Bun reports no handles (process.getActiveResourcesInfo() is always empty): the client-side leak
// check here is that every socket the suite opened has settled its `closed` (trackedConnect).

it("runs on Bun", () => {
  expect(currentRuntime().name).toBe("bun");
});

const env = inject("sockets");
const tls = { ca: env.caCert };
socketConformance({ runtime: "bun", traits: EMULATION_TRAITS, connect: trackedConnect(createConnect({ tls })), env });
patternsConformance({ runtime: "bun", traits: EMULATION_TRAITS, connect: trackedConnect(createConnect({ tls })), env });
destinationConformance({
  runtime: "bun",
  connect: createConnect({ tls }),
  env,
  withResolver: (resolve, policy) => createConnect({ tls, resolve, policy }),
  edgeRules: createConnect({ edgeRules: true }),
});
