// The socket conformance, core patterns and destination policy suites on Deno: through
// @sockkit/adapter-node (its node:net and node:tls compatibility), then through @sockkit/adapter-deno
// (Deno's own sockets). One file, so the two never share the test servers at the same time.
import { expect, inject, it } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { connect as nativeConnect, createConnect as createNativeConnect } from "@sockkit/adapter-deno";
import type { DestinationPolicy } from "@sockkit/core";
import { expectNoHandlesLeft, trackedConnect } from "../../harness/node/tracked-connect.js";
import { currentRuntime } from "../../harness/node/runtime.js";
import { destinationConformance } from "../../suites/destination-conformance.js";
import { patternsConformance } from "../../suites/patterns-conformance.js";
import { DENO_NATIVE_TRAITS, EMULATION_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";
import { utf8DecoderConformance } from "../../suites/utf8-decoder-conformance.js";

// Registered first so it runs last: no socket or timer of ours is left (Deno reports its handles).
expectNoHandlesLeft();

it("runs on Deno", () => {
  expect(currentRuntime().name).toBe("deno");
});

const env = inject("sockets");
const tls = { ca: env.caCert };
const emulation = trackedConnect(createConnect({ tls }));
socketConformance({
  runtime: "deno",
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
    // Deno's node:tls (rustls) sends no SNI for an IP literal.
    ipLiteralSni: false,
  },
});
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

const native = (options: { resolve?: (hostname: string) => Promise<string[]>; policy?: DestinationPolicy } = {}) =>
  createNativeConnect({ tls, ...options });
socketConformance({
  runtime: "deno-native",
  traits: DENO_NATIVE_TRAITS,
  connect: trackedConnect(native()),
  env,
  tls: {
    // close() gives up on a stalled handshake at once (no edgeRules here), though Deno keeps the TCP
    // connection until the server drops it (packages/adapter-deno/README.md); rustls sends no SNI for
    // an IP literal.
    closeDuringHandshake: [{ name: "default", connect: native(), waits: false }],
    closeDuringStartTlsHandshake: "drops",
    handshakeCloseLingers: true,
    ipLiteralSni: false,
  },
});
patternsConformance({ runtime: "deno-native", traits: DENO_NATIVE_TRAITS, connect: trackedConnect(native()), env });
destinationConformance({
  runtime: "deno-native",
  connect: native(),
  env,
  withResolver: (resolve, policy) => native({ resolve, policy }),
});
utf8DecoderConformance({ runtime: "deno-native", connect: nativeConnect, customConnect: native() });
