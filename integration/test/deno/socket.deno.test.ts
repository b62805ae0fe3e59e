// The socket conformance, core patterns and destination policy suites on Deno, through
// @sockkit/adapter-node (its node:net and node:tls compatibility).
import { expect, inject, it } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { expectNoHandlesLeft, trackedConnect } from "../../harness/leak-check.js";
import { currentRuntime } from "../../harness/runtime.js";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { EMULATION_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";

// Registered first so it runs last: no socket or timer of ours is left (Deno reports its handles).
expectNoHandlesLeft();

it("runs on Deno", () => {
  expect(currentRuntime().name).toBe("deno");
});

const env = inject("sockets");
const tls = { ca: env.caCert };
socketConformance({ runtime: "deno", traits: EMULATION_TRAITS, connect: trackedConnect(createConnect({ tls })), env });
patternsConformance({
  runtime: "deno",
  traits: EMULATION_TRAITS,
  connect: trackedConnect(createConnect({ tls })),
  env,
});
destinationConformance({
  runtime: "deno",
  connect: createConnect({ tls }),
  env,
  withResolver: (resolve, policy) => createConnect({ tls, resolve, policy }),
  edgeRules: createConnect({ edgeRules: true }),
});
