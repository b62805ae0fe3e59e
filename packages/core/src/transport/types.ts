/**
 * What a runtime's own socket API must provide for {@link createTransportConnect} to build a
 * workerd-shaped `Socket` over it: a byte transport (one per connection; a TLS upgrade makes a new
 * one) and a dialer that opens and upgrades transports. The workerd behaviour (streams, close order,
 * half-close, flushing, errors) is written once, in the socket; a runtime file only moves bytes.
 */

/** Events a transport reports after it has opened. A handler called after the socket let go is ignored. */
export interface TransportHandlers {
  /** Bytes from the peer, in memory nothing else writes to (the socket hands it to the reader). */
  data(chunk: Uint8Array): void;
  /** The peer ended its side (EOF; under TLS, with a close_notify: an end without one is an `error` the dialer classifies as `lost`). */
  end(): void;
  /** The connection failed after it opened. */
  error(error: unknown): void;
  /** The connection is gone. */
  close(): void;
}

/** One open connection, plain or TLS. */
export interface Transport {
  /**
   * Hands all of `bytes` to the kernel, writing the rest as it takes more (partial writes are the
   * transport's business). Returns undefined when every byte was taken at once and `bytes` is not
   * kept, else a promise that resolves once every byte was taken, or rejects if the connection fails.
   */
  write(bytes: Uint8Array): Promise<void> | undefined;
  /** Bytes of writes under way that the kernel has not taken yet. */
  readonly pendingBytes: number;
  /** The reader wants bytes: deliver (more) through `data`. Called again for every read on an empty queue. */
  resume(): void;
  /** Enough is queued: stop taking bytes from the kernel, so the peer is held back. */
  pause(): void;
  /** Half-close: sends EOF after the bytes written so far; resolves once sent (or the connection is gone). */
  end(): Promise<void>;
  /** Closes at once; bytes not yet taken are dropped. Idempotent. */
  destroy(): void;
  /** `ip:port` (IPv6 in brackets) of the local end, where the runtime reports it. */
  readonly localAddress?: string | undefined;
}

/** What to open. */
export interface DialRequest {
  /** The addresses to try in turn (checked by a destination policy), or the one name to dial. */
  targets: readonly string[];
  port: number;
  /** TLS from the first byte. */
  tls: boolean;
  /**
   * Plain now, TLS later through {@link TransportDialer.upgrade}: until then the transport reads
   * only while a reader waits (no read may be pending when the handshake starts).
   */
  starttls: boolean;
  /** The name TLS sends as SNI (unless it is an IP literal) and verifies the certificate against. */
  servername: string;
}

/** A runtime's way to open and upgrade transports. */
export interface TransportDialer {
  /**
   * Opens a transport to the first target that accepts; resolves once usable (TLS: handshake done).
   * When `signal` aborts (the socket was closed meanwhile), the dial stops and its connection closes.
   */
  open(request: DialRequest, handlers: TransportHandlers, signal: AbortSignal): Promise<Transport>;
  /**
   * TLS over `plain` (flushed, paused, and with no read pending), verified against `servername`;
   * resolves once the handshake is done. `plain`'s handlers are no longer called. `signal` as for open().
   */
  upgrade(plain: Transport, servername: string, handlers: TransportHandlers, signal: AbortSignal): Promise<Transport>;
  /**
   * How one of the runtime's errors reads: a reset, a TLS connection the peer closed without a
   * close_notify (`lost`), a TLS failure, or another failure. On plain TCP a reset or loss ends the
   * socket as at EOF; under TLS both are workerd's "Network connection lost.".
   */
  classify(error: unknown): "reset" | "lost" | "tls" | "other";
}
