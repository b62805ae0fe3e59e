import type tls from "node:tls";
import type { SecureTransport } from "@sockkit/core";

/** Everything a socket needs to (re)connect; built once per `connect()` call. */
export interface SocketPlan {
  /** Hostname as given, brackets stripped: used for SNI and certificate checks. */
  hostname: string;
  port: number;
  /** `host:port` as the caller gave it: workerd's `remoteAddress`. */
  display: string;
  secureTransport: SecureTransport;
  allowHalfOpen: boolean;
  writableHighWaterMark: number;
  /** Node TLS settings from `createConnect({ tls })`. */
  tls: tls.ConnectionOptions;
  /**
   * Resolves to what to dial: a host (a name Node resolves itself, or an
   * address), or the checked addresses of `hostname`, which are then the
   * only ones Node may try. Rejects with the reason the destination is refused.
   */
  resolveTarget: () => Promise<string | readonly string[]>;
  /**
   * How long close() waits for a connection or TLS handshake still under way, as workerd's close()
   * does (without a bound); 0: close() gives up on it at once. From `edgeRules`.
   */
  closeWaitMs: number;
  /** What a TLS peer that closes TCP without a close_notify looks like: see NodeConnectOptions.uncleanTlsClose. */
  uncleanTlsClose: "lost" | "end";
}
