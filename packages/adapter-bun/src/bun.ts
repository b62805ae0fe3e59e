// The Bun runtime file: Bun.connect as a @sockkit/core/transport dialer. workerd's socket behaviour
// (streams, close order, half-close, errors) comes from core; this file only moves bytes.
import { Buffer } from "node:buffer";
import { lookup } from "node:dns/promises";
import { rootCertificates } from "node:tls";
import type { DestinationPolicy } from "@sockkit/core";
import type { DecodeUtf8, PolicyAwareConnect, TextAwareConnect } from "@sockkit/core/adapter";
import {
  createTransportConnect,
  type DialRequest,
  type Transport,
  type TransportDialer,
  type TransportHandlers,
} from "@sockkit/core/transport";

// Buffer's native UTF-8 decoder reads any Uint8Array in place, faster than TextDecoder on Bun (a
// 100-byte string: about 70 ns against 90-120; bench/RESULTS.md). It decodes exactly as TextDecoder with
// ignoreBOM: integration/suites/utf8-decoder-conformance.ts checks that on Bun. A bound `call` keeps the
// native target visible to the JIT (see @sockkit/adapter-node's text.ts).
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;
const bufferDecodeUtf8: DecodeUtf8 | undefined =
  typeof utf8Slice === "function" ? (Function.prototype.call.bind(utf8Slice) as DecodeUtf8) : undefined;

/** Settings for {@link createConnect}. */
export interface BunConnectOptions {
  /**
   * TLS settings for `secureTransport: "on"` and `startTls()`. A `ca` given here is added to the
   * system roots (Bun alone would replace them), so a local test CA and public servers both verify.
   * @default {} (the system roots, full verification)
   */
  tls?: { ca?: string | readonly string[]; cert?: string; key?: string };
  /**
   * A destination policy from `@sockkit/core` applied before any I/O: a name `publicOnly` must judge
   * is resolved once, every address is checked, and only the checked addresses are dialled (TLS still
   * verifies the name). `guardConnect(connect, policy)` reaches this too.
   * @default undefined (no policy)
   */
  policy?: DestinationPolicy;
  /**
   * Resolves a name to its addresses when `policy` must see them.
   * @default every address `dns.lookup` returns, in the resolver's order
   */
  resolve?: (hostname: string) => Promise<readonly string[]>;
}

/** Builds a `connect()` with `cloudflare:sockets`' signature over Bun's own sockets. */
export function createConnect(options: BunConnectOptions = {}): PolicyAwareConnect & TextAwareConnect {
  return createTransportConnect({
    dialer: bunDialer(options.tls ?? {}),
    policy: options.policy,
    resolve: options.resolve ?? lookupAll,
    decodeUtf8: bufferDecodeUtf8,
  });
}

/** `connect()` with Bun's defaults: the drop-in for `cloudflare:sockets`' `connect`. */
export const connect: PolicyAwareConnect & TextAwareConnect = createConnect();

async function lookupAll(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
}

// ---- the few Bun APIs used here (Bun's own types are not a dependency) ----

interface BunSocket {
  data: BunTransport;
  write(bytes: Uint8Array): number;
  shutdown(): void;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(noDelay: boolean): void;
  upgradeTLS(options: { data: BunTransport; tls: object; socket: typeof HANDLERS }): [BunSocket, BunSocket];
  readonly localAddress?: string;
  readonly localPort?: number;
}
declare const Bun: {
  connect(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    tls?: object;
    data: BunTransport;
    socket: typeof HANDLERS;
  }): Promise<BunSocket>;
};

// ---- transport ----------------------------------------------------------

interface PendingWrite {
  bytes: Uint8Array;
  resolve(): void;
  reject(error: unknown): void;
}

/** One Bun socket: partial writes are queued and finished on `drain`. */
class BunTransport implements Transport {
  socket: BunSocket | undefined;
  #handlers: TransportHandlers;
  #writes: PendingWrite[] = [];
  #drained: (() => void) | undefined;
  #destroyed = false;
  /** Set until the socket is usable: the dial's outcome. */
  ready: { resolve(t: BunTransport): void; reject(error: unknown): void } | undefined;
  readonly tls: boolean;

  constructor(handlers: TransportHandlers, tls: boolean, ready: BunTransport["ready"]) {
    this.#handlers = handlers;
    this.tls = tls;
    this.ready = ready;
  }

  get pendingBytes(): number {
    let n = 0;
    for (const w of this.#writes) n += w.bytes.byteLength;
    return n;
  }

  get localAddress(): string | undefined {
    const { localAddress: address, localPort: port } = this.socket ?? {};
    if (!address || port === undefined) return undefined;
    return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  }

  write(bytes: Uint8Array): Promise<void> | undefined {
    const socket = this.socket;
    if (!socket || this.#destroyed) return Promise.reject(new TypeError("This WritableStream has been closed."));
    if (this.#writes.length === 0) {
      // Bun.write takes what the kernel takes now and keeps nothing: the rest waits for `drain`.
      const n = socket.write(bytes);
      if (n === bytes.byteLength) return undefined;
      if (n < 0) return Promise.reject(new Error("the socket is closed"));
      bytes = bytes.subarray(n);
    }
    return new Promise<void>((resolve, reject) => this.#writes.push({ bytes, resolve, reject }));
  }

  /** Bun's `drain`: write what the queue holds, as far as the kernel takes it. */
  drain(): void {
    const socket = this.socket;
    while (socket && this.#writes.length > 0) {
      const head = this.#writes[0]!;
      const n = socket.write(head.bytes);
      if (n < 0) return this.#failWrites(new Error("the socket is closed"));
      if (n < head.bytes.byteLength) {
        head.bytes = head.bytes.subarray(n);
        return;
      }
      this.#writes.shift();
      head.resolve();
    }
    this.#drained?.();
    this.#drained = undefined;
  }

  #failWrites(error: unknown): void {
    for (const w of this.#writes.splice(0)) w.reject(error);
    this.#drained?.();
    this.#drained = undefined;
  }

  resume(): void {
    this.socket?.resume();
  }

  pause(): void {
    this.socket?.pause();
  }

  async end(): Promise<void> {
    if (this.#writes.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    if (!this.#destroyed) this.socket?.shutdown();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#failWrites(new TypeError("This WritableStream has been closed."));
    // end() closes once what was written is out (a shutdown() already sent the EOF); with bytes of an
    // aborted write still queued, terminate() drops them.
    this.socket?.end();
  }

  /** Connection events, routed here by Bun through `socket.data`. */
  handlers(): TransportHandlers {
    return this.#handlers;
  }

  closed(error?: unknown): void {
    this.#failWrites(error ?? new TypeError("This WritableStream has been closed."));
    if (this.ready) {
      this.ready.reject(error ?? new Error("the connection closed before it opened"));
      this.ready = undefined;
    } else if (!this.#destroyed) {
      // Bun reports a reset only here (close with ECONNRESET), never through `error`.
      if (error == null) this.#handlers.close();
      else this.#handlers.error(error);
    }
    this.#destroyed = true;
  }

  /** The dial was given up (the socket closed meanwhile): close whatever it has opened so far. */
  cancel(reason: unknown): void {
    this.ready?.reject(reason);
    this.ready = undefined;
    this.#destroyed = true;
    this.socket?.terminate();
  }

  opened(socket: BunSocket): void {
    if (this.#destroyed) return void socket.terminate();
    this.socket = socket;
    socket.setNoDelay?.(true);
    const ready = this.ready;
    this.ready = undefined;
    ready?.resolve(this);
  }
}

// One handler object for every socket (Bun's advice): `socket.data` is the transport.
const HANDLERS = {
  open(socket: BunSocket) {
    const transport = socket.data;
    if (!transport.tls) transport.opened(socket);
    else if (transport.ready)
      transport.socket = socket; // so that a cancelled dial can close it mid-handshake
    else socket.terminate(); // cancelled before the connection was made
  },
  handshake(socket: BunSocket, success: boolean, error: unknown) {
    const transport = socket.data;
    if (success) transport.opened(socket);
    else if (transport.ready) {
      transport.ready.reject(error ?? new Error("TLS handshake failed"));
      transport.ready = undefined;
      socket.terminate();
    }
  },
  data(socket: BunSocket, chunk: Uint8Array) {
    socket.data.handlers().data(chunk);
  },
  drain(socket: BunSocket) {
    socket.data.drain();
  },
  end(socket: BunSocket) {
    if (!socket.data.ready) socket.data.handlers().end();
  },
  error(socket: BunSocket, error: unknown) {
    const transport = socket.data;
    if (transport.ready) {
      transport.ready.reject(error);
      transport.ready = undefined;
    } else transport.handlers().error(error);
  },
  connectError(socket: BunSocket, error: unknown) {
    socket.data.ready?.reject(error);
    socket.data.ready = undefined;
  },
  close(socket: BunSocket, error?: unknown) {
    socket.data.closed(error);
  },
};

function bunDialer(tls: NonNullable<BunConnectOptions["tls"]>): TransportDialer {
  // A `ca` of one's own joins the system roots instead of replacing them.
  const own = tls.ca === undefined ? [] : typeof tls.ca === "string" ? [tls.ca] : [...tls.ca];
  const base = { ...tls, ...(own.length > 0 ? { ca: [...rootCertificates, ...own] } : {}), rejectUnauthorized: true };
  // An IP literal is sent as SNI too, as workerd does (Bun verifies it against the certificate's IP entries).
  const tlsFor = (servername: string) => ({ ...base, serverName: servername });

  const openOne = (target: string, request: DialRequest, handlers: TransportHandlers, signal: AbortSignal) =>
    new Promise<Transport>((resolve, reject) => {
      const transport = new BunTransport(handlers, request.tls, { resolve, reject });
      signal.addEventListener("abort", () => transport.cancel(signal.reason), { once: true });
      Bun.connect({
        hostname: target,
        port: request.port,
        allowHalfOpen: true,
        ...(request.tls ? { tls: tlsFor(request.servername) } : {}),
        data: transport,
        socket: HANDLERS,
      }).catch((error: unknown) => {
        transport.ready?.reject(error);
        transport.ready = undefined;
      });
    });

  return {
    async open(request, handlers, signal) {
      let last: unknown;
      // The checked addresses in turn; a TLS failure is the server's answer, not a reason to try another.
      for (const target of request.targets) {
        if (signal.aborted) throw signal.reason;
        try {
          return await openOne(target, request, handlers, signal);
        } catch (error) {
          last = error;
          if (this.classify(error) === "tls") break;
        }
      }
      throw last;
    },

    upgrade(plain, servername, handlers, signal) {
      const socket = (plain as BunTransport).socket;
      if (!socket) return Promise.reject(new TypeError("The socket was closed before startTls completed."));
      return new Promise<Transport>((resolve, reject) => {
        const transport = new BunTransport(handlers, true, { resolve, reject });
        signal.addEventListener("abort", () => transport.cancel(signal.reason), { once: true });
        socket.resume();
        const [, secure] = socket.upgradeTLS({ data: transport, tls: tlsFor(servername), socket: HANDLERS });
        transport.socket ??= secure;
      });
    },

    classify(error) {
      const code = String((error as { code?: unknown } | null)?.code ?? "");
      if (RESET_CODES.has(code)) return "reset";
      const message = error instanceof Error ? error.message : String(error);
      return TLS_CODE.test(code) || /\b(SSL|TLS|certificate)\b/i.test(message) ? "tls" : "other";
    },
  };
}

const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_|ERR_OSSL_)/;
