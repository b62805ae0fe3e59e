import { deferred, type Deferred } from "../deferred.js";
import type { SecureTransport, SocketInfo, SocketLike, TlsOptions } from "../types.js";
import { closeReadable, ownedView, SocketReadable } from "./readable.js";
import type { Transport, TransportDialer, TransportHandlers } from "./types.js";
import {
  closedBeforeOpen,
  connectionLost,
  handshakeFailedAfterStartTls,
  lostBeforeOpen,
  toConnectError,
} from "./workerd-errors.js";

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

// Bytes the readable side queues before the transport stops taking bytes from the kernel: enough to
// keep loopback busy, little enough that a slow reader leaves the peer's output in the kernel.
const READABLE_QUEUE_LIMIT = 256 * 1024;

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
  #drained: Deferred<void> | undefined;
  // Aborted when the socket fails or closes while its connection (or handshake) is still being made.
  #dialing = new AbortController();
  #wantsData = false;
  // pull() ran and nothing was queued since: a read is waiting on an empty queue.
  #readWaiting = false;
  // The peer's end as the transport reported it, until a read reaches it (see #peerEnded).
  #peerEnd: PeerEnd | undefined;
  // The connection is gone (lost, reset, ended): writes fail, the first with #writeError if set.
  #gone = false;
  // What the next failing write rejects with instead of the stream's own error (once).
  #writeError: unknown;
  // After startTls(), until the handshake is done: `opened` has resolved (as in workerd) and writes wait for it.
  #handshake: Deferred<void> | undefined;
  #writeAwaitsHandshake = false;

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
          if (this.#peerEnd) return this.#deliverPeerEnd();
          if (this.#readDone) return;
          this.#readWaiting = true;
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

  /**
   * Runs the TLS handshake over the plain transport the old socket hands over. As in workerd, `opened`
   * resolves without waiting for the handshake; writes wait for it, and its failure shows only
   * through them and the reads (see #handshakeFailed).
   */
  #upgrade(plainPromise: Promise<Transport>): void {
    plainPromise.then(
      (plain) => {
        if (this.#settled) return plain.destroy();
        this.#handshake = deferred<void>();
        this.#handshake.promise.catch(noop);
        this.#opened.resolve(this.#info(plain));
        const handlers = this.#listen();
        this.#plan.dialer.upgrade(plain, this.#plan.hostname, handlers, this.#dialing.signal).then(
          (secure) => {
            this.#attach(secure, handlers);
            this.#handshake?.resolve();
            this.#handshake = undefined;
          },
          (error: unknown) => {
            plain.destroy();
            this.#handshakeFailed(error);
          },
        );
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /**
   * The handshake after startTls() failed; `opened` has resolved already. workerd: a write waiting for
   * the handshake rejects with an internal error, reads end (done), later writes reject with a
   * TypeError, and `closed` resolves: nothing else tells the caller the certificate was refused.
   */
  #handshakeFailed(cause: unknown): void {
    const handshake = this.#handshake;
    this.#handshake = undefined;
    const writeError = handshakeFailedAfterStartTls(this.#plan.display, cause);
    if (this.#settled) return handshake?.reject(writeError);
    // Which write sees what, as in workerd: one waiting for the handshake gets the internal error;
    // with none, the next write gets "Network connection lost.", unless a read met the end first.
    if (this.#writeAwaitsHandshake || this.#readWaiting) {
      this.#shutWritable(new TypeError("This WritableStream has been closed."));
    } else this.#writeError = connectionLost(this.#plan.display, cause, "ETLS");
    this.#gone = true;
    handshake?.reject(writeError);
    if (!this.#readDone) {
      this.#readDone = true;
      closeReadable(this.#rc);
    }
    this.#teardown();
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
    if (this.#aborted) void transport.end(); // writer.abort() came while connecting or handshaking
    if (this.#wantsData && !this.#readDone) transport.resume();
    if (!this.#opened.settled) this.#opened.resolve(this.#info(transport));
  }

  #info(transport: Transport): SocketInfo {
    const localAddress = transport.localAddress;
    return localAddress === undefined
      ? { remoteAddress: this.#plan.display }
      : { remoteAddress: this.#plan.display, localAddress };
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
    // A connection lost without close_notify before it opened is a failed TLS handshake.
    const kind = this.#plan.dialer.classify(cause);
    return toConnectError(this.#plan.display, cause, kind === "tls" || kind === "lost");
  }

  // ---- reading ---------------------------------------------------------

  #enqueue(chunk: Uint8Array): void {
    if (this.#readDone) return;
    this.#readWaiting = false;
    this.#rc.enqueue(ownedView(chunk));
    // desiredSize is minus the queued bytes; pull() resumes once a reader waits on an empty queue.
    if (-(this.#rc.desiredSize ?? 0) >= READABLE_QUEUE_LIMIT) this.#transport?.pause();
  }

  #handleEnd(): void {
    this.#peerEnded({ gone: false });
  }

  /**
   * The peer ended, reset the connection, or (TLS) lost it. workerd reads only when asked, so its
   * reader meets the end, and `closed` settles, no earlier than a read that finds nothing before it;
   * a transport may have read ahead, so the end waits here for such a read.
   */
  #peerEnded(end: PeerEnd): void {
    if (this.#readDone || this.#peerEnd) return;
    this.#peerEnd = end;
    if (this.#readWaiting) this.#deliverPeerEnd();
  }

  #deliverPeerEnd(): void {
    const end = this.#peerEnd!;
    this.#peerEnd = undefined;
    this.#readDone = true;
    if (end.error) this.#rc.error(end.error);
    else closeReadable(this.#rc);
    if (end.gone) this.#teardown();
    // workerd: without allowHalfOpen the write side is flushed and closed on the peer's EOF,
    // after which `closed` resolves.
    else if (!this.#plan.allowHalfOpen) void this.#finishAfterPeerEnd();
  }

  async #finishAfterPeerEnd(): Promise<void> {
    await this.#flush();
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    await this.#endTransport();
    this.#teardown();
  }

  #handleError(error: unknown): void {
    const kind = this.#plan.dialer.classify(error);
    if (this.secureTransport === "on" && (kind === "reset" || kind === "lost")) {
      // Under TLS workerd reports a reset, and an end without close_notify, as a lost connection:
      // the data before it arrives, then reads reject and the next write does too.
      const lost = connectionLost(this.#plan.display, error);
      this.#gone = true;
      this.#writeError = lost;
      this.#transport?.destroy();
      this.#peerEnded({ error: lost, gone: true });
      return;
    }
    if (kind === "reset" || kind === "lost") {
      // On plain TCP workerd reports a reset as a plain end of stream.
      this.#gone = true;
      this.#shutWritable(new TypeError("The socket was reset by the peer."));
      this.#peerEnded({ gone: true });
      return;
    }
    // Other failures error the streams.
    if (!this.#readDone) {
      this.#readDone = true;
      this.#rc.error(error);
    }
    this.#shutWritable(error);
    this.#teardown(error);
  }

  #handleClose(): void {
    // A peer end not read yet settles the rest once a read reaches it (#deliverPeerEnd).
    if (this.#peerEnd) return;
    // The connection is gone. Without allowHalfOpen, or once close() ran, that settles `closed`;
    // with allowHalfOpen workerd keeps `closed` pending until close().
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    if (!this.#readDone) this.#peerEnded({ gone: !this.#plan.allowHalfOpen });
    else if (!this.#plan.allowHalfOpen) this.#teardown();
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
    if (!this.#opened.settled || this.#handshake) return this.#writeWhenReady(chunk);
    if (this.#writeDone || this.#gone || !transport) {
      this.#writeFailed();
      const error = this.#writeError;
      if (error === undefined) throw new TypeError("This WritableStream has been closed.");
      // Reported once, by this write; the stream's own error (for later writes) is the TypeError.
      this.#writeError = undefined;
      this.#wc.error(new TypeError("This WritableStream has been closed."));
      throw error;
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
        if (this.#aborted) throw this.#wc.signal.reason;
        // A connection lost under this write (TLS): workerd's "Network connection lost.", reported once.
        const lost = this.#writeError;
        this.#writeError = undefined;
        throw lost ?? (this.#plan.dialer.classify(error) === "reset" ? resetWriteError(error) : error);
      },
    );
  }

  /** A write before the connection (or the handshake after startTls()) is ready: it waits for it. */
  async #writeWhenReady(chunk: ArrayBufferView): Promise<void> {
    try {
      await this.opened;
    } catch (error) {
      this.#writeFailed();
      // workerd: a write waiting on a connection that fails rejects with "Network connection lost.".
      throw lostBeforeOpen(this.#plan.display, error);
    }
    if (this.#handshake) {
      this.#writeAwaitsHandshake = true;
      try {
        await this.#handshake.promise;
      } catch (error) {
        this.#writeFailed();
        throw error;
      } finally {
        this.#writeAwaitsHandshake = false;
      }
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
    // After startTls(), the end goes out once the handshake is done (nothing to end if it failed).
    if (this.#handshake) await this.#handshake.promise.catch(noop);
    this.#writeDone = true;
    await this.#endTransport();
  }

  /** `writer.abort()`: like workerd, resolves at once, even while the peer blocks a write. */
  #abortWriteSide(): void {
    const transport = this.#transport;
    if (!transport) return; // still connecting or handshaking: #attach ends the write side

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
      // Unlike workerd (which waits for a connection or handshake under way), a socket still connecting closes at once.
      this.#fail(closedBeforeOpen(this.#plan.display));
      return;
    }
    // A handshake after startTls() still under way: nothing can be flushed through it, so the
    // connection is dropped, as workerd's close() does at once here.
    const handshaking = this.#handshake !== undefined;
    if (!handshaking) await this.#flush();
    const cancelRead = !this.#readDone;
    this.#readDone = true;
    this.#peerEnd = undefined; // close() cancels the readable: an end not read yet is not delivered
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    if (handshaking) {
      // A write waiting for the handshake gets what workerd's gets once the handshake ends unfinished.
      const lost = connectionLost(this.#plan.display, new Error("close() during the TLS handshake"));
      this.#handshake?.reject(lost);
      this.#handshake = undefined;
      this.#dialing.abort(lost);
    } else await this.#endTransport();
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
    this.#peerEnd = undefined;
    if (!this.readable.locked && !this.writable.locked) {
      // As in workerd, the old socket's streams stay locked from now on: getReader() and getWriter() throw.
      this.readable.getReader();
      this.writable.getWriter();
      this.#writeDone = true;
    } else {
      // Locked again since startTls() (workerd's upgrade fails here): end them instead.
      const error = new TypeError("The socket was upgraded by startTls(); use the new socket.");
      this.#rc.error(error);
      this.#shutWritable(error);
    }
    this.#transport = undefined;
    this.#settled = true;
    this.#upgraded = true; // as in workerd: true once the old socket has handed over
    this.#closed.resolve();
    return transport;
  }
}

function noop(): void {}

/** The peer's end as the transport reported it, waiting for a read (see TransportSocket#peerEnded). */
interface PeerEnd {
  /** What reads reject with; none: they end (done). */
  error?: unknown;
  /** The connection is gone (a reset, a lost TLS connection): `closed` resolves at the end, allowHalfOpen or not. */
  gone: boolean;
}

function resetWriteError(error: unknown): TypeError {
  return new TypeError("The socket was reset by the peer.", { cause: error });
}
