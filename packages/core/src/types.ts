/**
 * The runtime-neutral socket contract. Every shape here mirrors the Workers
 * `cloudflare:sockets` API, so `connect` from `cloudflare:sockets` is a
 * `Connect` without any wrapping (a compile-time test in adapter-workers
 * keeps that true).
 */

/** Where to connect. Same shape as the Workers `SocketAddress`. */
export interface SocketAddress {
  /** A hostname, an IPv4 literal or an IPv6 literal (brackets optional). */
  hostname: string;
  /** TCP port, an integer from 0 to 65535. */
  port: number;
}

/** How the transport is secured. */
export type SecureTransport = "off" | "on" | "starttls";

/** Options for {@link Connect}. Same shape as the Workers `SocketOptions`. */
export interface SocketOptions {
  /**
   * `"off"` plain TCP, `"on"` TLS from the first byte, `"starttls"` plain
   * until {@link SocketLike.startTls} is called.
   * @default "off"
   */
  secureTransport?: string;
  /**
   * When `false`, the write side is closed as soon as the peer ends its
   * side, and `closed` resolves. When `true`, the write side stays open
   * until `close()`; note that `closed` then stays pending until `close()`.
   * @default false
   */
  allowHalfOpen?: boolean;
  /**
   * Bytes the writable side queues before `writer.ready` waits.
   * @default runtime-defined
   */
  highWaterMark?: number | bigint;
}

/** Resolved value of {@link SocketLike.opened}. */
export interface SocketInfo {
  /** The address as the caller gave it (workerd) or as connected (Node). */
  remoteAddress?: string;
  /** The local end, where the runtime reports it (workerd does not). */
  localAddress?: string;
}

/** Options for {@link SocketLike.startTls}. */
export interface TlsOptions {
  /** Name to verify the server certificate against; defaults to the hostname given to connect. */
  expectedServerHostname?: string;
}

/**
 * A connected (or connecting) TCP socket, shaped exactly like the Workers
 * `Socket`. Adapters return objects of this shape.
 */
export interface SocketLike {
  /** Bytes from the peer. Ends (`done`) when the peer closes its side. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; accepts `Uint8Array` (any ArrayBufferView) only. */
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once connected; rejects if the connection fails. */
  readonly opened: Promise<SocketInfo>;
  /** Resolves once the socket is closed; rejects if it failed. */
  readonly closed: Promise<void>;
  /** `true` once {@link startTls} has been called on this socket. */
  readonly upgraded: boolean;
  /** The transport mode this socket was created with. */
  readonly secureTransport: SecureTransport;
  /** Flushes pending writes, then tears the socket down. Idempotent. */
  close(): Promise<void>;
  /** Upgrades a `secureTransport: "starttls"` socket to TLS; callable once. */
  startTls(options?: TlsOptions): SocketLike;
}

/**
 * The `connect()` function: `cloudflare:sockets`' signature.
 *
 * Written as a method type on purpose: @cloudflare/workers-types declares
 * `allowHalfOpen` as required in its `SocketOptions`, and only method
 * parameters are compared bivariantly, which lets the runtime's `connect`
 * be a `Connect` while sockkit's callers may leave `allowHalfOpen` out.
 */
export type Connect = {
  connect(address: string | SocketAddress, options?: SocketOptions): SocketLike;
}["connect"];
