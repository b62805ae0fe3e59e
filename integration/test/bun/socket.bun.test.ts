// The socket conformance, core patterns and destination policy suites on Bun: through
// @sockkit/adapter-node (its node:net and node:tls compatibility), then through @sockkit/adapter-bun
// (Bun's own sockets). One file, so the two never share the test servers at the same time.
import { expect, inject, it } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { connect as nativeConnect, createConnect as createNativeConnect } from "@sockkit/adapter-bun";
import type { DestinationPolicy } from "@sockkit/core";
import { trackedConnect } from "../../harness/node/tracked-connect.js";
import { currentRuntime } from "../../harness/node/runtime.js";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { EMULATION_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";
import { utf8DecoderConformance } from "../../suites/utf8-decoder-conformance.js";

// Bun reports no handles (process.getActiveResourcesInfo() is always empty): the client-side leak
// check here is that every socket the suite opened has settled its `closed` (trackedConnect).

it("runs on Bun", () => {
  expect(currentRuntime().name).toBe("bun");
});

const env = inject("sockets");
const tls = { ca: env.caCert };
const emulation = trackedConnect(createConnect({ tls }));
socketConformance({
  runtime: "bun",
  traits: EMULATION_TRAITS,
  connect: emulation,
  env,
  tls: {
    // As on Node: close() gives up on a stalled handshake at once (it waits under edgeRules), and a
    // write after an unread loss of a TLS connection rejects.
    closeDuringHandshake: [
      { name: "default", connect: emulation, waits: false },
      {
        name: "edgeRules",
        connect: createConnect({ tls, edgeRules: { refuseDestinations: false } }),
        waits: true,
      },
    ],
    writeAfterUnreadLoss: "rejects",
    closeDuringStartTlsHandshake: "drops",
    // Bun's node:tls refuses an IP literal as SNI, and closes its side at the peer's close_notify.
    ipLiteralSni: false,
    writeAfterCloseNotify: "rejects",
  },
});
patternsConformance({ runtime: "bun", traits: EMULATION_TRAITS, connect: trackedConnect(createConnect({ tls })), env });
destinationConformance({
  runtime: "bun",
  connect: createConnect({ tls }),
  env,
  withResolver: (resolve, policy) => createConnect({ tls, resolve, policy }),
  edgeRules: createConnect({ edgeRules: true }),
});

const native = (options: { resolve?: (hostname: string) => Promise<string[]>; policy?: DestinationPolicy } = {}) =>
  createNativeConnect({ tls, ...options });
socketConformance({
  runtime: "bun-native",
  traits: EMULATION_TRAITS,
  connect: trackedConnect(native()),
  env,
  tls: {
    // close() gives up on a stalled handshake at once (no edgeRules here), and Bun's own TLS reports an
    // end without close_notify as a clean end.
    closeDuringHandshake: [{ name: "default", connect: native(), waits: false }],
    closeDuringStartTlsHandshake: "drops",
    uncleanTlsEnd: "end",
  },
});
patternsConformance({ runtime: "bun-native", traits: EMULATION_TRAITS, connect: trackedConnect(native()), env });
destinationConformance({
  runtime: "bun-native",
  connect: native(),
  env,
  withResolver: (resolve, policy) => native({ resolve, policy }),
});
utf8DecoderConformance({ runtime: "bun-native", connect: nativeConnect, customConnect: native() });
