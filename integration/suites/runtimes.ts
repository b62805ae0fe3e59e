/**
 * Who runs a suite, and what the connect() under test is known to do differently. The runtime's name
 * only labels tests and keys; what a suite expects comes from the traits, so a suite never asks which
 * runtime it is on. Each trait is a listed difference (packages/adapter-node/README.md).
 */
export type RuntimeName =
  | "workerd"
  | "node"
  | "bun"
  | "deno"
  /** The runtime's own sockets through @sockkit/adapter-bun / @sockkit/adapter-deno. */
  | "bun-native"
  | "deno-native";

export interface ConnectTraits {
  /** A write to a port nobody listens on rejects. workerd may resolve it instead. */
  writeToRefusedRejects: boolean;
  /** Repeated close() calls return one promise. workerd returns a new promise each time. */
  closeReturnsSamePromise: boolean;
  /**
   * startTls() with the readable or writable locked throws a TypeError. workerd accepts it, reports an
   * uncaught TypeError and leaves the new socket pending forever (seen in workerd 2026-04-05).
   */
  startTlsRefusesLockedStreams: boolean;
  /**
   * After abort() and close() on a writer the peer blocks, the connection stays open until the request
   * ends (seen in workerd 2026-04-05).
   */
  keepsAbortedConnectionOpen: boolean;
  /**
   * A socket closed before it opened stays connected for a while: ~20 s in workerd (a known defect);
   * with Deno's own TLS (Deno 2.9), a TLS connection closed before its handshake completes stays open
   * until the peer closes it or the process exits (Deno.TlsConn#close() cannot cancel the handshake).
   */
  closesUnopenedSlowly: boolean;
}

/** workerd's own `cloudflare:sockets`, and @sockkit/adapter-workers over it. */
export const WORKERD_TRAITS: ConnectTraits = {
  writeToRefusedRejects: false,
  closeReturnsSamePromise: false,
  startTlsRefusesLockedStreams: false,
  keepsAbortedConnectionOpen: true,
  closesUnopenedSlowly: true,
};

/** The emulation (@sockkit/adapter-node), on Node, Bun and Deno alike. */
export const EMULATION_TRAITS: ConnectTraits = {
  writeToRefusedRejects: true,
  closeReturnsSamePromise: true,
  startTlsRefusesLockedStreams: true,
  keepsAbortedConnectionOpen: false,
  closesUnopenedSlowly: false,
};

/** @sockkit/adapter-deno: the emulation's behaviour, except for Deno's TLS defect above. */
export const DENO_NATIVE_TRAITS: ConnectTraits = { ...EMULATION_TRAITS, closesUnopenedSlowly: true };
