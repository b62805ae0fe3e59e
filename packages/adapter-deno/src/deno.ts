// The Deno runtime file: Deno.connect and Deno.startTls as a @sockkit/core/transport dialer. workerd's
// socket behaviour (streams, close order, half-close, errors) comes from core; this file only moves bytes.
import { Buffer } from "node:buffer";
import { lookup } from "node:dns/promises";
import type { DestinationPolicy } from "@sockkit/core";
import type { DecodeUtf8, PolicyAwareConnect, TextAwareConnect } from "@sockkit/core/adapter";
import {
  createTransportConnect,
  type Transport,
  type TransportDialer,
  type TransportHandlers,
} from "@sockkit/core/transport";

// Buffer's native UTF-8 decoder reads any Uint8Array in place, faster than TextDecoder on Deno (a
// 100-byte string: about 70 ns against 90-120; bench/RESULTS.md). It decodes exactly as TextDecoder with
// ignoreBOM: integration/suites/utf8-decoder-conformance.ts checks that on Deno. A bound `call` keeps the
// native target visible to the JIT (see @sockkit/adapter-node's text.ts).
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
const bufferDecodeUtf8: DecodeUtf8 | undefined =
  typeof utf8Slice === "function" ? (Function.prototype.call.bind(utf8Slice) as DecodeUtf8) : undefined;

/** Settings for {@link createConnect}. */
export interface DenoConnectOptions {
  /**
   * TLS settings for `secureTransport: "on"` and `startTls()`: `ca` certificates (PEM) are trusted in
   * addition to the system roots, so a local test CA and public servers both verify.
   * @default {} (the system roots, full verification)
   */
  tls?: { ca?: string | readonly string[] };
  /**
   * A destination policy from `@sockkit/core` applied before any I/O: a name `publicOnly` must judge
   * is resolved once, every address is checked, and only the checked addresses are dialled (TLS still
   * verifies the name). `guardConnect(connect, policy)` reaches this too.
   * @default undefined (no policy)
   */
  policy?: DestinationPolicy;
  /**
   * Resolves a name to its addresses when `policy` must see them.
   * @default every address `dns.lookup` returns (getaddrinfo, so /etc/hosts too), in the resolver's order
   */
  resolve?: (hostname: string) => Promise<readonly string[]>;
}

/** Builds a `connect()` with `cloudflare:sockets`' signature over Deno's own sockets. */
export function createConnect(options: DenoConnectOptions = {}): PolicyAwareConnect & TextAwareConnect {
  const ca = options.tls?.ca;
  return createTransportConnect({
    dialer: denoDialer(ca === undefined ? [] : typeof ca === "string" ? [ca] : [...ca]),
    policy: options.policy,
    resolve: options.resolve ?? lookupAll,
    decodeUtf8: bufferDecodeUtf8,
  });
}

/** `connect()` with Deno's defaults: the drop-in for `cloudflare:sockets`' `connect`. */
export const connect: PolicyAwareConnect & TextAwareConnect = createConnect();

async function lookupAll(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
}

// ---- the few Deno APIs used here (Deno's own types are not a dependency) ----

interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay: boolean): void;
  handshake?(): Promise<unknown>;
  readonly localAddr: { hostname: string; port: number };
}
declare const Deno: {
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  startTls(conn: DenoConn, options: { hostname: string; caCerts: string[] }): Promise<DenoConn>;
};

// ---- transport ----------------------------------------------------------

// Reads go into a buffer sized to the traffic, as adapter-node's do: 16 KiB, doubled after each read
// that fills it, up to 256 KiB; a partial read is copied out and the buffer shrunk to fit such reads.
const MIN_READ_BUFFER = 16 * 1024;
const MAX_READ_BUFFER = 256 * 1024;

/** One Deno connection. Reads run ahead of the reader until paused, except before a STARTTLS upgrade. */
class DenoTransport implements Transport {
  readonly conn: DenoConn;
  #handlers: TransportHandlers;
  /** Whether to keep reading while nobody waits (false until STARTTLS: no read may be pending then). */
  #readAhead: boolean;
  #paused = true;
  #reading = false;
  #ended = false;
  #destroyed = false;
  #buffer = new Uint8Array(MIN_READ_BUFFER);
  #writing: Promise<void> = Promise.resolve();
  pendingBytes = 0;

  constructor(conn: DenoConn, handlers: TransportHandlers, readAhead: boolean) {
    this.conn = conn;
    this.#handlers = handlers;
    this.#readAhead = readAhead;
    conn.setNoDelay?.(true);
  }

  get localAddress(): string {
    const { hostname, port } = this.conn.localAddr;
    return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  }

  /** Whether a read is under way (startTls must not begin then). */
  get readPending(): boolean {
    return this.#reading;
  }

  write(bytes: Uint8Array): Promise<void> {
    // The socket's writable hands over one write at a time, so writes never overlap here.
    const size = bytes.byteLength;
    this.pendingBytes = size;
    const written = this.conn.write(bytes).then((n) => {
      if (n === size) this.pendingBytes = 0;
      else return this.#writeRest(bytes, n);
    });
    this.#writing = written;
    return written;
  }

  /** Deno.Conn#write may take part of the buffer: write the rest until all is taken. */
  async #writeRest(bytes: Uint8Array, offset: number): Promise<void> {
    while (offset < bytes.byteLength) {
      this.pendingBytes = bytes.byteLength - offset;
      offset += await this.conn.write(bytes.subarray(offset));
    }
    this.pendingBytes = 0;
  }

  resume(): void {
    this.#paused = false;
    if (!this.#reading) void this.#read();
  }

  pause(): void {
    this.#paused = true;
  }

  async #read(): Promise<void> {
    this.#reading = true;
    try {
      do {
        const buffer = this.#buffer;
        const n = await this.conn.read(buffer);
        if (this.#destroyed) return;
        if (n === null) {
          this.#ended = true;
          this.#handlers.end();
          return;
        }
        this.#handlers.data(this.#take(buffer, n));
      } while (this.#readAhead && !this.#paused && !this.#destroyed);
    } catch (error) {
      if (!this.#destroyed) this.#handlers.error(error);
    } finally {
      this.#reading = false;
    }
  }

  /** The bytes read, in memory of their own; the next read gets a buffer sized to the traffic. */
  #take(buffer: Uint8Array, n: number): Uint8Array {
    if (n === buffer.byteLength) {
      // Full: hand the buffer over as it is, and give the next read more room.
      this.#buffer = new Uint8Array(Math.min(n * 2, MAX_READ_BUFFER));
      return buffer;
    }
    // Partial: copy the bytes out and keep the buffer, shrinking it only when reads are far smaller
    // (Deno zero-fills every new buffer, so a bulk transfer must not shrink and regrow it each read).
    if (n <= buffer.byteLength / 8 && buffer.byteLength > MIN_READ_BUFFER) {
      let fit = MIN_READ_BUFFER;
      while (fit < n) fit *= 2;
      this.#buffer = new Uint8Array(fit);
    }
    return buffer.slice(0, n);
  }

  async end(): Promise<void> {
    await this.#writing.catch(() => {});
    if (this.#destroyed) return;
    try {
      await this.conn.closeWrite();
    } catch {
      // the connection is gone already: nothing left to end
    }
    // Both directions done: the connection is over, as Node reports with 'close'.
    if (this.#ended) this.#handlers.close();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

function denoDialer(caCerts: string[]): TransportDialer {
  /** Runs `step`; if `signal` aborts first, closes `conn` and rejects with the reason. */
  const unlessAborted = async <T>(signal: AbortSignal, conn: DenoConn, step: Promise<T>): Promise<T> => {
    const abort = () => conn.close();
    signal.addEventListener("abort", abort, { once: true });
    if (signal.aborted) abort();
    try {
      const result = await step;
      if (signal.aborted) throw signal.reason;
      return result;
    } finally {
      signal.removeEventListener("abort", abort);
    }
  };
  const handshake = async (plain: DenoConn, servername: string, signal: AbortSignal) => {
    // Deno's TLS verifies an IP literal against the certificate's IP entries and sends no SNI for it.
    const secure = await Deno.startTls(plain, { hostname: servername, caCerts });
    try {
      await unlessAborted(signal, secure, secure.handshake?.() ?? Promise.resolve());
    } catch (error) {
      secure.close(); // the plain connection is the TLS one's now: this closes both
      throw error;
    }
    return secure;
  };

  return {
    async open(request, handlers, signal) {
      let last: unknown;
      for (const target of request.targets) {
        if (signal.aborted) throw signal.reason;
        let conn: DenoConn;
        try {
          conn = await Deno.connect({ hostname: target, port: request.port });
        } catch (error) {
          last = error; // the next checked address, if any
          continue;
        }
        if (signal.aborted) {
          conn.close();
          throw signal.reason;
        }
        // A TLS failure is the server's answer: another address of the same name would give it too.
        if (request.tls) conn = await handshake(conn, request.servername, signal);
        return new DenoTransport(conn, handlers, !request.starttls);
      }
      throw last;
    },

    async upgrade(plain, servername, handlers, signal) {
      const transport = plain as DenoTransport;
      if (transport.readPending) {
        throw new TypeError("startTls() found a read still pending on the plain connection; Deno cannot upgrade it.");
      }
      const secure = await handshake(transport.conn, servername, signal);
      return new DenoTransport(secure, handlers, true);
    },

    classify(error) {
      const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
      if (name === "ConnectionReset" || name === "BrokenPipe" || name === "ConnectionAborted") return "reset";
      if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED") return "reset";
      // rustls: "peer closed connection without sending TLS close_notify".
      if (name === "UnexpectedEof") return "lost";
      const message = error instanceof Error ? error.message : String(error);
      return /\b(TLS|SSL|certificate|handshake|UnknownIssuer)\b/i.test(message) ? "tls" : "other";
    },
  };
}
