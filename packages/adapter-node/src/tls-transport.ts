import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";

/**
 * TLS over `tcp`. Node's TLS reports a TLS close_notify and a bare TCP end the same way ('end');
 * workerd tells them apart (a server that just closes the connection makes its reads reject with
 * "Network connection lost."). With `onUncleanEnd` the adapter reads the TCP socket itself, so it
 * sees the TCP end: the bytes reach TLS through a Duplex, and `onUncleanEnd` runs when TCP ends
 * before TLS has. The price is Node's JS stream glue between TLS and TCP (bench/RESULTS.md has the
 * numbers). Without it, Node's TLS takes the TCP socket over as usual.
 */
export function secureOver(
  tcp: net.Socket,
  options: tls.ConnectionOptions,
  onUncleanEnd: (() => void) | undefined,
): tls.TLSSocket {
  if (!onUncleanEnd) return connectTls({ ...options, socket: tcp });
  const feed = new TcpFeed(tcp);
  let secure: tls.TLSSocket | undefined;
  // Registered before TLS's own listener, so it runs first: every byte before the TCP end has been
  // handed to TLS by now, and a close_notify among them has already ended TLS's readable side.
  // Node keeps that "ended" flag on _readableState only (readableEnded waits for the reader).
  feed.once("end", () => {
    const state = (secure as { _readableState?: { ended?: boolean } } | undefined)?._readableState;
    if (state?.ended !== true) onUncleanEnd();
  });
  secure = connectTls({ ...options, socket: feed });
  return secure;
}

/** A TCP socket as a plain Duplex: TLS over it then runs through Node's JS stream glue, where its end is visible. */
class TcpFeed extends Duplex {
  readonly #tcp: net.Socket;

  constructor(tcp: net.Socket) {
    super({ allowHalfOpen: true });
    this.#tcp = tcp;
    tcp.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) tcp.pause();
    });
    tcp.once("end", () => this.push(null));
    tcp.once("error", (error) => this.destroy(error));
    tcp.once("close", () => this.destroy());
  }

  override _read(): void {
    this.#tcp.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let early = false;
    const more = this.#tcp.write(chunk, (error) => {
      if (!early) callback(error);
    });
    if (more) {
      early = true;
      callback();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#tcp.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#tcp.destroy();
    callback(error);
  }
}

/**
 * `tls.connect`, sending an IP literal as SNI when `servername` is one, as workerd does. Node sends it
 * too, but warns once per process that RFC 6066 forbids it (DEP0123); the emulation does it on purpose,
 * so that one warning is dropped. (TLSSocket#setServername after connect would avoid the warning, but
 * with a `socket` option Node has already started the handshake by then and aborts the process.)
 */
function connectTls(options: tls.ConnectionOptions): tls.TLSSocket {
  if (options.servername === undefined || !net.isIP(options.servername)) return tls.connect(options);
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, ...args: unknown[]) {
    const [, type, code] = args;
    const codeOf = typeof type === "object" && type !== null ? (type as { code?: unknown }).code : code;
    if (codeOf === "DEP0123") return;
    return Reflect.apply(emitWarning, process, args);
  } as typeof process.emitWarning;
  try {
    return tls.connect(options);
  } catch (error) {
    // Bun's node:tls refuses an IP literal as SNI (ERR_INVALID_ARG_VALUE): no SNI there, as Node
    // alone would send (a listed difference).
    if ((error as { code?: unknown }).code !== "ERR_INVALID_ARG_VALUE") throw error;
    const { servername: _, ...withoutSni } = options;
    return tls.connect(withoutSni);
  } finally {
    process.emitWarning = emitWarning;
  }
}
