import { ConnectError, TlsError, isSockkitError } from "../errors.js";
import type { SecureTransport, SocketInfo, SocketLike, TlsOptions } from "../types.js";
import type { Transport, TransportDialer, TransportHandlers } from "./types.js";

/** Everything a socket needs to (re)connect; built once per `connect()` call. */
export interface TransportSocketPlan {
  /** Hostname as given, brackets stripped: TLS verifies against it. */
  hostname: string;
  port: number;
  /** `host:port` as the caller gave it: workerd's `remoteAddress`. */
  display: string;
  secureTransport: SecureTransport;
  allowHalfOpen: boolean;
  writableHighWaterMark: number;
  dialer: TransportDialer;
  /** What to dial: the checked addresses, or the name; rejects with the reason it is refused. */
  resolveTarget: () => Promise<readonly string[]>;
}

// workerd's own wording, so code that matches on it behaves the same here.
export const CONNECT_FAILED = "proxy request failed, cannot connect to the specified address";
// Bytes the readable side queues before the transport stops taking bytes from the kernel: enough to
// keep loopback busy, little enough that a slow reader leaves the peer's output in the kernel.
const READABLE_QUEUE_LIMIT = 256 * 1024;

const deferred = <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  const d = {
    promise,
    settled: false,
    resolve: (value: T) => ((d.settled = true), resolve(value)),
    reject: (reason: unknown) => ((d.settled = true), reject(reason)),
  };
  return d;
};

/**
 * A `SocketLike` over a runtime's {@link Transport} that follows workerd's observable behaviour, as
 * @sockkit/adapter-node's socket does over node:net (its README lists the few deliberate differences).
 */
export class TransportSocket implements SocketLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened: Promise<SocketInfo>;
  readonly closed: Promise<void>;
  readonly secureTransport: SecureTransport;

  #readable: SocketReadable;
  #plan: TransportSocketPlan;
  #transport: Transport | undefined;
  #handlers: TransportHandlers | undefined;
  #opened = deferred<SocketInfo>();
  #closed = deferred<void>();
  #rc!: ReadableByteStreamController;
  #wc!: WritableStreamDefaultController;
  #readDone = false;
  #writeDone = false;
  #upgraded = false;
  #startTlsCalled = false;
  #aborted = false;
  #closing: Promise<void> | undefined;
  #settled = false;
  // Bytes accepted by `writer.write()` whose sink write has not finished: close() and startTls() flush them.
  #pendingWriteBytes = 0;
  #drained: ReturnType<typeof deferred<void>> | undefined;
  // Aborted when the socket fails or closes while its connection is still being made.
  #dialing = new AbortController();
  #wantsData = false;

  /** @internal Use a connect(). `upgradeFrom` is the plain transport startTls() hands over once flushed. */
  constructor(plan: TransportSocketPlan, upgradeFrom?: Promise<Transport>) {
    this.#plan = plan;
    this.secureTransport = upgradeFrom ? "on" : plan.secureTransport;
    this.opened = this.#opened.promise;
    this.closed = this.#closed.promise;
    // As in workerd, an unobserved rejection of opened/closed is not an unhandled one.
    this.opened.catch(noop);
    this.closed.catch(noop);

    this.readable = this.#readable = new SocketReadable(
      {
        type: "bytes",
        start: (controller) => {
          this.#rc = controller;
        },
        pull: () => {
          if (this.#readDone) return;
          // A read before the connection opened is remembered: #attach asks for the bytes then.
          if (this.#transport) this.#transport.resume();
          else this.#wantsData = true;
        },
        cancel: () => {
          // As in workerd, a cancelled readable stops reading (the kernel holds the peer back)
          // and `closed` then waits for close().
          this.#readDone = true;
          this.#transport?.pause();
        },
      },
      { highWaterMark: 0 },
    );

    this.writable = new WritableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#wc = controller;
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#endWriteSide(),
        abort: () => this.#abortWriteSide(),
      },
      {
        highWaterMark: plan.writableHighWaterMark,
        size: (chunk) => {
          const size = ArrayBuffer.isView(chunk) ? chunk.byteLength : 1;
          this.#pendingWriteBytes += size;
          return size;
        },
      },
    );
    // abort() drops queued chunks without handing them to the sink and must not wait for a write
    // the peer is blocking: settle both here.
    this.#wc.signal.addEventListener("abort", () => {
      this.#aborted = true;
      this.#writeFailed();
      // Bytes the transport still holds belong to writes being rejected (whose buffers the caller may
      // reuse): they must not reach the peer, and the write under way must fail now.
      if (this.#transport && this.#transport.pendingBytes > 0) this.#transport.destroy();
    });

    if (upgradeFrom) this.#upgrade(upgradeFrom);
    else void this.#connect();
  }

  get upgraded(): boolean {
    return this.#upgraded;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  startTls(options?: TlsOptions): SocketLike {
    if (this.secureTransport === "on") throw new TypeError("Cannot startTls on a TLS socket.");
    if (this.#startTlsCalled) throw new TypeError("startTls can only be called once.");
    if (this.secureTransport !== "starttls") {
      throw new TypeError("The `secureTransport` socket option must be set to 'starttls' for startTls to be used.");
    }
    // workerd accepts this call, reports an uncaught TypeError and never opens the new socket;
    // refusing up front is the useful form of the same rule.
    if (this.readable.locked || this.writable.locked) {
      throw new TypeError("startTls() needs both streams unlocked: release the reader and the writer first.");
    }
    this.#startTlsCalled = true;
    const hostname = options?.expectedServerHostname ?? this.#plan.hostname;
    return new TransportSocket({ ...this.#plan, hostname }, this.#detachForUpgrade());
  }

  // ---- connection ------------------------------------------------------

  async #connect(): Promise<void> {
    const plan = this.#plan;
    try {
      const targets = await plan.resolveTarget();
      if (this.#settled) return; // closed while resolving
      const handlers = this.#listen();
      const transport = await plan.dialer.open(
        {
          targets,
          port: plan.port,
          tls: plan.secureTransport === "on",
          starttls: plan.secureTransport === "starttls",
          servername: plan.hostname,
        },
        handlers,
        this.#dialing.signal,
      );
      this.#attach(transport, handlers);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Runs the TLS handshake over the plain transport the old socket hands over. */
  #upgrade(plainPromise: Promise<Transport>): void {
    plainPromise
      .then((plain) => {
        if (this.#settled) {
          plain.destroy();
          return;
        }
        const handlers = this.#listen();
        return this.#plan.dialer.upgrade(plain, this.#plan.hostname, handlers, this.#dialing.signal).then(
          (secure) => this.#attach(secure, handlers),
          (error: unknown) => {
            plain.destroy();
            throw error;
          },
        );
      })
      .catch((error: unknown) => this.#fail(error));
  }

  /** Handlers for one transport; they go quiet once this socket lets go of it. */
  #listen(): TransportHandlers {
    const handlers: TransportHandlers = {
      data: (chunk) => this.#handlers === handlers && this.#enqueue(chunk),
      end: () => this.#handlers === handlers && this.#handleEnd(),
      error: (error) => this.#handlers === handlers && this.#handleError(error),
      close: () => this.#handlers === handlers && this.#handleClose(),
    };
    return handlers;
  }

  #attach(transport: Transport, handlers: TransportHandlers): void {
    if (this.#settled) {
      transport.destroy();
      return;
    }
    this.#transport = transport;
    this.#handlers = handlers;
    if (this.#wantsData && !this.#readDone) transport.resume();
    const localAddress = transport.localAddress;
    this.#opened.resolve(
      localAddress === undefined
        ? { remoteAddress: this.#plan.display }
        : { remoteAddress: this.#plan.display, localAddress },
    );
  }

  /** The connection never opened: reject both promises and end both streams, as workerd does. */
  #fail(cause: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const error = this.#connectError(cause);
    this.#readDone = this.#writeDone = true;
    this.#handlers = undefined;
    this.#dialing.abort(error);
    this.#transport?.destroy();
    this.#opened.reject(error);
    this.#closed.reject(error);
    closeReadable(this.#rc); // workerd cancels the readable: reads end with done
    this.#wc.error(error);
  }

  #connectError(cause: unknown): Error {
    if (isSockkitError(cause) || cause instanceof TypeError) return cause as Error;
    const { display } = this.#plan;
    const detail = cause instanceof Error ? cause.message : String(cause);
    if (this.#plan.dialer.classify(cause) === "tls") {
      return new TlsError(`TLS connection to ${display} failed: ${detail}`, { cause });
    }
    return new ConnectError(display, `${CONNECT_FAILED} (${display}: ${detail})`, { cause });
  }

  // ---- reading ---------------------------------------------------------

  #enqueue(chunk: Uint8Array): void {
    if (this.#readDone) return;
    this.#rc.enqueue(ownedView(chunk));
    // desiredSize is minus the queued bytes; pull() resumes once a reader waits on an empty queue.
    if (-(this.#rc.desiredSize ?? 0) >= READABLE_QUEUE_LIMIT) this.#transport?.pause();
  }

  #handleEnd(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    closeReadable(this.#rc);
    // workerd: without allowHalfOpen the write side is flushed and closed on the peer's EOF,
    // after which `closed` resolves.
    if (!this.#plan.allowHalfOpen) void this.#finishAfterPeerEnd();
  }

  async #finishAfterPeerEnd(): Promise<void> {
    await this.#flush();
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    await this.#endTransport();
    this.#teardown();
  }

  #handleError(error: unknown): void {
    // workerd reports a peer reset as a plain end of stream; other failures error the streams.
    if (this.#plan.dialer.classify(error) === "reset") {
      if (!this.#readDone) {
        this.#readDone = true;
        closeReadable(this.#rc);
      }
      this.#shutWritable(new TypeError("The socket was reset by the peer."));
      this.#teardown();
      return;
    }
    if (!this.#readDone) {
      this.#readDone = true;
      this.#rc.error(error);
    }
    this.#shutWritable(error);
    this.#teardown(error);
  }

  #handleClose(): void {
    // The connection is gone. Without allowHalfOpen, or once close() ran, that settles `closed`;
    // with allowHalfOpen workerd keeps `closed` pending until close().
    if (!this.#readDone) {
      this.#readDone = true;
      closeReadable(this.#rc);
    }
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    if (!this.#plan.allowHalfOpen) this.#teardown();
  }

  // ---- writing ---------------------------------------------------------

  // Synchronous when the transport took every byte at once: no promise per write on the hot path.
  #write(chunk: unknown): Promise<void> | undefined {
    if (!ArrayBuffer.isView(chunk)) {
      this.#writeFailed();
      throw new TypeError(
        "This WritableStream only supports writing byte types (Uint8Array or another ArrayBufferView).",
      );
    }
    const transport = this.#transport;
    if (!this.#opened.settled || !transport) return this.#writeWhenOpen(chunk);
    if (this.#writeDone) {
      this.#writeFailed();
      throw new TypeError("This WritableStream has been closed.");
    }
    const size = chunk.byteLength;
    const bytes =
      chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const writing = transport.write(bytes);
    if (writing === undefined) {
      this.#wroteBytes(size);
      return undefined;
    }
    // The transport holds the rest: the write completes when the kernel takes it, or fails at once on
    // abort() (the abort listener set up in the constructor destroys the transport, which rejects it).
    return writing.then(
      () => this.#wroteBytes(size),
      (error: unknown) => {
        this.#writeFailed();
        throw this.#aborted
          ? this.#wc.signal.reason
          : this.#plan.dialer.classify(error) === "reset"
            ? resetWriteError(error)
            : error;
      },
    );
  }

  async #writeWhenOpen(chunk: ArrayBufferView): Promise<void> {
    try {
      await this.opened;
    } catch (error) {
      this.#writeFailed();
      throw error;
    }
    return this.#write(chunk);
  }

  /** A failed sink write errors the stream, which drops every chunk queued behind it: nothing is left to flush. */
  #writeFailed(): void {
    this.#writeDone = true;
    this.#pendingWriteBytes = 0;
    this.#wroteBytes(0);
  }

  #wroteBytes(size: number): void {
    this.#pendingWriteBytes -= size;
    if (this.#pendingWriteBytes <= 0 && this.#drained) {
      this.#drained.resolve();
      this.#drained = undefined;
    }
  }

  /** Resolves once every byte accepted by the writable has reached the kernel. */
  #flush(): Promise<void> {
    if (this.#pendingWriteBytes <= 0 || this.#writeDone) return Promise.resolve();
    this.#drained ??= deferred<void>();
    return this.#drained.promise;
  }

  /** `writer.close()`: a half-close; the peer sees EOF and may still answer. */
  async #endWriteSide(): Promise<void> {
    if (!this.#opened.settled) await this.opened;
    this.#writeDone = true;
    await this.#endTransport();
  }

  /** `writer.abort()`: like workerd, resolves at once, even while the peer blocks a write. */
  #abortWriteSide(): void {
    const transport = this.#transport;
    if (!transport) return;
    // Bytes the transport still holds belong to writes just rejected (whose buffers the caller
    // may reuse): they must not reach the peer.
    if (transport.pendingBytes > 0) transport.destroy();
    else void transport.end();
  }

  #endTransport(): Promise<void> {
    if (this.#aborted || !this.#transport) return Promise.resolve();
    return this.#transport.end();
  }

  #shutWritable(reason: unknown): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#wc.error(reason);
  }

  // ---- closing ---------------------------------------------------------

  async #close(): Promise<void> {
    if (!this.#opened.settled) {
      // Unlike workerd (which can take ~20 s here), a socket still connecting closes at once.
      this.#fail(new ConnectError(this.#plan.display, "socket closed before the connection was established"));
      return;
    }
    await this.#flush();
    const cancelRead = !this.#readDone;
    this.#readDone = true;
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    await this.#endTransport();
    this.#teardown();
    await this.#closed.promise.catch(noop);
    // A pending read rejects only after `closed` and close() have resolved, as in workerd: code that
    // races `closed` against `read()` (redis-on-workers does) ends its loop quietly. A macrotask
    // later, so that callers who await close() through layers of their own still see close() first.
    if (cancelRead) {
      const error = new TypeError("The socket has been closed.");
      this.#readable.closeError = error;
      setTimeout(() => this.#rc.error(error), 0);
    }
  }

  #teardown(error?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#handlers = undefined;
    this.#transport?.destroy();
    if (error === undefined) this.#closed.resolve();
    else this.#closed.reject(error);
  }

  /** startTls(): flush, stop using the plain transport, resolve this socket's `closed`. */
  async #detachForUpgrade(): Promise<Transport> {
    if (!this.#opened.settled) await this.opened;
    await this.#flush();
    const transport = this.#transport;
    if (!transport || this.#settled) throw new TypeError("The socket was closed before startTls completed.");
    transport.pause();
    this.#handlers = undefined;
    this.#readDone = true;
    this.#rc.error(new TypeError("The socket was upgraded by startTls(); use the new socket."));
    this.#shutWritable(new TypeError("The socket was upgraded by startTls(); use the new socket."));
    this.#transport = undefined;
    this.#settled = true;
    this.#upgraded = true; // as in workerd: true once the old socket has handed over
    this.#closed.resolve();
    return transport;
  }
}

function noop(): void {}

/**
 * The socket's readable. As in workerd, once close() has cancelled it, reads reject but `cancel()`
 * (on the stream or a reader from getReader()) resolves; a standard errored stream would reject
 * both, and clients that cancel after closing (redis-on-workers does) would meet an error.
 */
class SocketReadable extends ReadableStream<Uint8Array> {
  /** The error close() ended the stream with. */
  closeError: TypeError | undefined;

  constructor(source: UnderlyingByteSource, strategy: { highWaterMark?: number }) {
    super(source as UnderlyingSource<Uint8Array>, strategy);
  }

  override cancel(reason?: unknown): Promise<void> {
    return this.#unlessClosed(super.cancel(reason));
  }

  override getReader(options?: { mode?: "byob" }): never {
    const reader = super.getReader(options as { mode: "byob" });
    const cancel = reader.cancel.bind(reader);
    reader.cancel = (reason?: unknown) => this.#unlessClosed(cancel(reason));
    return reader as never;
  }

  #unlessClosed(cancelled: Promise<void>): Promise<void> {
    return cancelled.catch((error: unknown) => {
      if (error === undefined || error !== this.closeError) throw error;
    });
  }
}

function closeReadable(rc: ReadableByteStreamController): void {
  try {
    rc.close();
    // A pending BYOB read must be answered with zero bytes after close().
    rc.byobRequest?.respond(0);
  } catch {
    // already closed or errored
  }
}

/**
 * A plain Uint8Array the stream may transfer: a chunk that is a view into a larger buffer (a runtime's
 * pool) is copied, as transferring it would detach the rest; another typed array class is re-viewed.
 */
function ownedView(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) {
    return Object.getPrototypeOf(chunk) === Uint8Array.prototype
      ? (chunk as Uint8Array<ArrayBuffer>)
      : new Uint8Array(buffer, 0, chunk.byteLength);
  }
  return new Uint8Array(chunk);
}

function resetWriteError(error: unknown): TypeError {
  return new TypeError("The socket was reset by the peer.", { cause: error });
}
