import net from "node:net";
import tls from "node:tls";
import type { SecureTransport, SocketInfo, SocketLike, TlsOptions } from "@sockkit/core";
import { deferred, settledWithin, type Deferred } from "@sockkit/core/adapter";
import { fixedLookup, localAddress, tlsIdentity } from "./addresses.js";
import type { SocketPlan } from "./plan.js";
import { ReadBuffer } from "./read-buffer.js";
import { closeReadable, ownedView, SocketReadable } from "./readable.js";
import { secureOver } from "./tls-transport.js";
import {
  closedBeforeOpen,
  closedWriteError,
  connectionLost,
  handshakeFailedAfterStartTls,
  isReset,
  lostBeforeOpen,
  toConnectError,
} from "./workerd-errors.js";

// Bytes the readable side queues before the Node socket stops reading from the
// kernel: large enough to keep loopback busy, small enough that a slow reader
// leaves the rest of the peer's output in the kernel and the peer blocked.
// The stream's own high-water mark stays 0 and this limit is checked by hand:
// with a positive mark the byte stream calls pull() after every enqueue as
// well as on every read, each call a promise and its reaction (client CPU per
// 16-byte round trip fell by about 3 µs of 55 on Node 20 without them); and
// pull() stays pending while bytes flow (see there) for the one per read left.
const READABLE_QUEUE_LIMIT = 256 * 1024;

/**
 * A `SocketLike` over a Node `net.Socket` (or `tls.TLSSocket`) that follows
 * workerd's observable behaviour; see the adapter's README for the deliberate
 * differences.
 */
export class NodeSocket implements SocketLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened: Promise<SocketInfo>;
  readonly closed: Promise<void>;
  readonly secureTransport: SecureTransport;

  #readable: SocketReadable;
  #plan: SocketPlan;
  #raw: net.Socket | undefined;
  // TLS only: the TCP socket under `#raw` (read by the adapter itself unless uncleanTlsClose is "end").
  #tcp: net.Socket | undefined;
  // TLS only: the handshake has completed.
  #secure = false;
  // Set when TCP ended before TLS did (no close_notify): the end is then workerd's "Network connection lost.".
  #lost: Error | undefined;
  // The peer's end as Node saw it, until a read reaches it (see #peerEnded).
  #peerEnd: PeerEnd | undefined;
  // pull() ran and nothing was queued since: a read is waiting on an empty queue.
  #readWaiting = false;
  // What the next failing write rejects with instead of the stream's own error (once).
  #writeError: Error | undefined;
  // After startTls(), until the handshake is done: writes wait for it, as in workerd (where a write
  // resolves only once the handshake has succeeded, and rejects if it fails).
  #handshake: Deferred<void> | undefined;
  #writeAwaitsHandshake = false;
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
  // Bytes accepted by `writer.write()` whose sink write has not finished yet;
  // lets close() and startTls() flush even while the caller holds the writer.
  #pendingWriteBytes = 0;
  #drained: Deferred<void> | undefined;
  // Settles the pull the readable is waiting on (see pull below).
  #endPull: (() => void) | undefined;
  #onRawData = (chunk: Buffer) => this.#handleData(chunk);
  #onRawEnd = () => this.#handleEnd();
  #onRawError = (error: Error) => this.#handleError(error);
  #onRawClose = () => this.#handleClose();

  /**
   * @internal Use `connect()`. `upgradeFrom` is the plain socket that
   * `startTls()` hands over once the old socket has flushed.
   */
  constructor(plan: SocketPlan, upgradeFrom?: Promise<net.Socket>) {
    this.#plan = plan;
    this.secureTransport = upgradeFrom ? "on" : plan.secureTransport;
    this.opened = this.#opened.promise;
    this.closed = this.#closed.promise;
    // Like workerd, an unobserved rejection of opened/closed is not an unhandled one:
    // the same failure is reported through every other promise the caller does use.
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
          this.#readWaiting = true;
          if (this.#raw && !this.#readDone && this.#raw.isPaused()) this.#raw.resume();
          // Left pending while bytes flow: a stream whose pull is under way only notes further
          // demand, where a settled pull would cost a call, a promise and its reaction per read
          // (callgrind, 16-byte round trips on Node 20: 31,852 -> 31,417 instructions each).
          // #enqueue settles it when it pauses the socket, so the next read on an empty queue
          // calls pull() again, which resumes.
          return new Promise<void>((resolve) => {
            this.#endPull = resolve;
          });
        },
        cancel: () => {
          // As in workerd, a cancelled readable stops reading altogether (the
          // kernel pushes back on the peer) and `closed` then waits for close().
          this.#readDone = true;
          this.#raw?.pause();
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
    // abort() discards queued chunks without handing them to the sink, and
    // must not wait for a write the peer is blocking: settle both here.
    this.#wc.signal.addEventListener("abort", () => {
      this.#aborted = true;
      this.#writeFailed();
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
    // workerd accepts this call, reports an uncaught TypeError and never opens
    // the new socket; refusing up front is the useful form of the same rule.
    if (this.readable.locked || this.writable.locked) {
      throw new TypeError("startTls() needs both streams unlocked: release the reader and the writer first.");
    }
    this.#startTlsCalled = true;
    const hostname = options?.expectedServerHostname ?? this.#plan.hostname;
    return new NodeSocket({ ...this.#plan, hostname }, this.#detachForUpgrade());
  }

  // ---- connection ------------------------------------------------------

  async #connect(): Promise<void> {
    const plan = this.#plan;
    let target: string | readonly string[];
    try {
      target = await plan.resolveTarget();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#settled) return; // closed while resolving
    // Checked addresses: Node dials the name (so SNI and the certificate
    // check use it, and Happy Eyeballs tries each address in turn) through a
    // lookup that answers with those addresses only, never asking DNS again.
    const base =
      typeof target === "string"
        ? { host: target, port: plan.port, allowHalfOpen: true, noDelay: true }
        : { host: plan.hostname, port: plan.port, allowHalfOpen: true, noDelay: true, lookup: fixedLookup(target) };
    if (plan.secureTransport === "on") {
      this.#secureOver(net.connect(base), false);
      return;
    }
    const onread = plan.secureTransport === "off" ? new ReadBuffer((chunk) => this.#enqueue(chunk)).onread : undefined;
    this.#attach(net.connect(onread ? { ...base, onread } : base), false);
  }

  /** Runs the TLS handshake over the plain socket the old socket hands over. */
  #upgrade(rawPromise: Promise<net.Socket>): void {
    rawPromise.then(
      (plain) => {
        if (this.#settled) plain.destroy();
        // As in workerd, the upgraded socket's `opened` does not wait for the handshake (see #handshakeFailed).
        else this.#secureOver(plain, true);
      },
      (error) => this.#fail(error),
    );
  }

  /** Starts TLS over `tcp`; `opened` resolves now (`openNow`), or once the handshake is done. */
  #secureOver(tcp: net.Socket, openNow: boolean): void {
    this.#tcp = tcp;
    // Errors TLS would see second hand (the connection refused, a reset) reach the socket first hand.
    tcp.on("error", this.#onRawError);
    let raw: tls.TLSSocket;
    try {
      const onUncleanEnd = () => {
        const cause = new Error("the peer closed the TCP connection without a TLS close_notify");
        this.#lost = connectionLost(this.#plan.display, cause);
      };
      const options = { ...this.#plan.tls, ...tlsIdentity(this.#plan.hostname) };
      raw = secureOver(tcp, options, this.#plan.uncleanTlsClose === "lost" ? onUncleanEnd : undefined);
    } catch (error) {
      this.#fail(error); // e.g. TLS options Node rejects synchronously
      return;
    }
    if (openNow) {
      this.#handshake = deferred<void>();
      this.#handshake.promise.catch(noop);
    }
    raw.once("secureConnect", () => {
      this.#secure = true;
      this.#handshake?.resolve();
      this.#handshake = undefined;
    });
    this.#attach(raw, openNow);
  }

  #attach(raw: net.Socket, openNow: boolean): void {
    this.#raw = raw;
    raw.on("error", this.#onRawError);
    const ready = () => {
      if (this.#settled) return;
      raw.on("data", this.#onRawData);
      raw.on("end", this.#onRawEnd);
      raw.on("close", this.#onRawClose);
      this.#opened.resolve({ remoteAddress: this.#plan.display, localAddress: localAddress(this.#tcp ?? raw) });
    };
    if (openNow) ready();
    else raw.once(raw instanceof tls.TLSSocket ? "secureConnect" : "connect", ready);
  }

  /** Connection never opened: reject both promises and error both streams, as workerd does. */
  #fail(cause: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const error = toConnectError(this.#plan.display, cause);
    this.#readDone = this.#writeDone = true;
    this.#raw?.destroy();
    this.#tcp?.destroy();
    this.#opened.reject(error);
    this.#closed.reject(error);
    closeReadable(this.#rc); // workerd cancels the readable: reads end with done
    this.#wc.error(error);
  }

  // ---- reading ---------------------------------------------------------

  #handleData(chunk: Buffer): void {
    this.#enqueue(ownedView(chunk));
  }

  /** Queues bytes the stream may transfer (nothing else holds their memory). */
  #enqueue(chunk: Uint8Array<ArrayBuffer>): void {
    if (this.#readDone) return;
    this.#readWaiting = false;
    this.#rc.enqueue(chunk);
    // desiredSize is minus the queued bytes; pull() resumes once a reader waits on an empty queue.
    if (-(this.#rc.desiredSize ?? 0) >= READABLE_QUEUE_LIMIT) {
      this.#raw?.pause();
      this.#endPull?.();
      this.#endPull = undefined;
    }
  }

  #handleEnd(): void {
    const lost = this.#lost;
    if (lost) {
      // The next write reports the loss (workerd's would resolve, the bytes lost; see the README).
      this.#writeError = lost;
      this.#raw?.destroy();
    }
    this.#peerEnded(lost ? { error: lost, gone: true } : { gone: false });
  }

  /**
   * The peer ended, reset the connection, or (TLS) closed it without a close_notify. workerd reads
   * only when asked, so its reader meets the end, and `closed` settles, no earlier than a read that
   * finds nothing before it; Node has read ahead, so the end waits here for such a read.
   */
  #peerEnded(end: PeerEnd): void {
    if (this.#readDone || this.#peerEnd) return;
    this.#peerEnd = end;
    if (this.#readWaiting) this.#deliverPeerEnd();
    else {
      // Ends a pull() under way; a read that came meanwhile calls pull() again, which delivers.
      this.#endPull?.();
      this.#endPull = undefined;
    }
  }

  #deliverPeerEnd(): void {
    const end = this.#peerEnd!;
    this.#peerEnd = undefined;
    this.#readDone = true;
    this.#endPull?.();
    this.#endPull = undefined;
    if (end.error) this.#rc.error(end.error);
    else closeReadable(this.#rc);
    if (end.gone) this.#teardown();
    // workerd: without allowHalfOpen the write side is flushed and closed on
    // the peer's EOF, after which `closed` resolves.
    else if (!this.#plan.allowHalfOpen) void this.#finishAfterPeerEnd();
  }

  async #finishAfterPeerEnd(): Promise<void> {
    await this.#flush();
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    await this.#endRaw();
    this.#teardown();
  }

  /**
   * The handshake after startTls() failed; `opened` has resolved already. workerd: a write in flight
   * rejects with an internal error, reads end (done), later writes reject with a TypeError, and
   * `closed` resolves: nothing else tells the caller the certificate was refused.
   */
  #handshakeFailed(cause: Error): void {
    const handshake = this.#handshake;
    this.#handshake = undefined;
    // Which write sees what, as in workerd: one waiting for the handshake gets the internal error;
    // with none, the next write gets "Network connection lost.", unless a read met the end first.
    if (this.#writeAwaitsHandshake || this.#readWaiting) {
      this.#shutWritable(new TypeError("This WritableStream has been closed."));
    } else this.#writeError = connectionLost(this.#plan.display, cause, "ETLS");
    handshake?.reject(handshakeFailedAfterStartTls(this.#plan.display, cause));
    if (!this.#readDone) {
      this.#readDone = true;
      closeReadable(this.#rc);
    }
    this.#teardown();
  }

  #handleError(error: Error): void {
    if (!this.#opened.settled) {
      this.#fail(error);
      return;
    }
    if (this.#tcp && !this.#secure) return this.#handshakeFailed(error);
    if (isReset(error)) {
      if (this.#tcp) {
        // Under TLS workerd reports a reset as a lost connection, as it does an end without close_notify.
        const lost = connectionLost(this.#plan.display, error);
        this.#writeError = lost;
        this.#peerEnded({ error: lost, gone: true });
      } else {
        // On plain TCP, as a plain end of stream.
        this.#shutWritable(new TypeError("The socket was reset by the peer."));
        this.#peerEnded({ gone: true });
      }
      return;
    }
    if (this.#tcp && (error as NodeJS.ErrnoException).code === "EBADF") {
      // Bun's node:tls fails a write after the peer's close_notify: its side is closed, as a write side is.
      this.#shutWritable(closedWriteError(error));
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
    // The connection is gone (both sides done or destroyed). Without
    // allowHalfOpen, or once close() ran, that settles `closed`. With
    // allowHalfOpen workerd keeps `closed` pending until close().
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    if (!this.#readDone) this.#peerEnded({ gone: !this.#plan.allowHalfOpen });
    else if (!this.#plan.allowHalfOpen) this.#teardown();
  }

  // ---- writing ---------------------------------------------------------

  // Synchronous when Node hands the bytes to the kernel at once: no promise
  // per write on the hot path.
  #write(chunk: unknown): Promise<void> | undefined {
    if (!ArrayBuffer.isView(chunk)) {
      this.#writeFailed();
      throw new TypeError(
        "This WritableStream only supports writing byte types (Uint8Array or another ArrayBufferView).",
      );
    }
    const raw = this.#raw;
    if (!this.#opened.settled || !raw || this.#handshake) return this.#writeWhenReady(chunk);
    const size = chunk.byteLength;
    if (this.#writeDone || raw.destroyed) {
      this.#writeFailed();
      const error = this.#writeError;
      if (error === undefined) throw new TypeError("This WritableStream has been closed.");
      // Reported once, by this write; the stream's own error (for later writes) is the TypeError.
      this.#writeError = undefined;
      this.#wc.error(new TypeError("This WritableStream has been closed."));
      throw error;
    }
    const bytes =
      chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let settle: ((error?: Error | null) => void) | undefined;
    const flushed = raw.write(bytes, (error) => settle?.(error));
    // Written to the kernel already, and Node kept no reference to the caller's bytes.
    if (flushed && raw.writableLength === 0) {
      this.#wroteBytes(size);
      return undefined;
    }
    // Node holds the bytes: the write completes when the kernel takes them
    // (backpressure), or fails at once on abort().
    const signal = this.#wc.signal;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        settle = undefined;
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      settle = (error) => {
        signal.removeEventListener("abort", onAbort);
        if (error) {
          this.#writeFailed();
          const reported = this.#writeError ?? closedWriteError(error);
          this.#writeError = undefined;
          reject(reported);
        } else {
          this.#wroteBytes(size);
          resolve();
        }
      };
    });
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

  /**
   * A failed sink write errors the stream, which then drops every chunk
   * queued behind it without calling the sink: nothing is left to flush.
   */
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

  /** Resolves once every byte accepted by the writable has reached Node's socket. */
  #flush(): Promise<void> {
    if (this.#pendingWriteBytes <= 0 || this.#writeDone) return Promise.resolve();
    this.#drained ??= deferred<void>();
    return this.#drained.promise;
  }

  /** `writer.close()`: a half-close; the peer sees EOF and may still answer. */
  async #endWriteSide(): Promise<void> {
    if (!this.#opened.settled) await this.opened;
    this.#writeDone = true;
    await this.#endRaw();
  }

  /** `writer.abort()`: like workerd, resolves at once, even while the peer blocks a write. */
  #abortWriteSide(): void {
    const raw = this.#raw;
    if (!raw) return;
    // Bytes Node still holds belong to writes that were just rejected (and
    // whose buffers the caller may reuse): they must not reach the peer.
    if (raw.writableLength > 0) raw.destroy();
    else raw.end();
  }

  #endRaw(): Promise<void> {
    if (this.#aborted) return Promise.resolve(); // Node may still hold bytes the peer will never take
    const raw = this.#raw;
    if (!raw || raw.destroyed || raw.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      raw.end(() => resolve());
      raw.once("close", () => resolve());
    });
  }

  #shutWritable(reason: unknown): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#wc.error(reason);
  }

  // ---- closing ---------------------------------------------------------

  async #close(): Promise<void> {
    // workerd's close() waits for a connection or TLS handshake under way, without a bound (past 40 s
    // for a stalled handshake); edgeRules waits too, up to closeWaitMs.
    if (!this.#opened.settled && this.#plan.closeWaitMs > 0) await settledWithin(this.opened, this.#plan.closeWaitMs);
    if (!this.#opened.settled) {
      // By default (and past that bound) a socket still connecting closes at once.
      this.#fail(closedBeforeOpen(this.#plan.display));
      this.#closed.promise.catch(noop);
      return;
    }
    // A handshake after startTls() still under way (opened resolved already): nothing can be flushed
    // through it, so the connection is dropped, as workerd's close() does at once here.
    const handshaking = this.#tcp !== undefined && !this.#secure;
    if (!handshaking) await this.#flush();
    const cancelRead = !this.#readDone;
    this.#readDone = true;
    this.#peerEnd = undefined; // close() cancels the readable: an end not read yet is not delivered
    this.#shutWritable(new TypeError("This WritableStream has been closed."));
    if (handshaking) {
      // A write waiting for the handshake gets what workerd's gets once the handshake ends unfinished.
      this.#handshake?.reject(connectionLost(this.#plan.display, new Error("close() during the TLS handshake")));
      this.#handshake = undefined;
    } else await this.#endRaw();
    this.#teardown();
    await this.#closed.promise.catch(noop);
    // A pending read rejects only after `closed` and close() have resolved, as in workerd: code
    // that races `closed` against `read()` (redis-on-workers does) ends its loop quietly there,
    // and would otherwise meet a rejection it never catches. A macrotask later, so that callers
    // who await close() through layers of their own still see close() first.
    if (cancelRead) {
      const error = new TypeError("The socket has been closed.");
      this.#readable.closeError = error;
      setImmediate(() => this.#rc.error(error));
    }
  }

  #teardown(error?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const raw = this.#raw;
    if (raw) {
      raw.off("data", this.#onRawData);
      raw.off("end", this.#onRawEnd);
      raw.off("close", this.#onRawClose);
      raw.destroy();
      // Late errors from a destroyed socket are not the caller's concern any more.
      raw.on("error", noop);
      raw.off("error", this.#onRawError);
    }
    const tcp = this.#tcp;
    if (tcp) {
      tcp.destroy();
      tcp.on("error", noop);
      tcp.off("error", this.#onRawError);
    }
    if (error === undefined) this.#closed.resolve();
    else this.#closed.reject(error);
  }

  /** startTls(): flush, stop using the plain socket, resolve this socket's `closed`. */
  async #detachForUpgrade(): Promise<net.Socket> {
    if (!this.#opened.settled) await this.opened;
    await this.#flush();
    const raw = this.#raw;
    if (!raw || raw.destroyed) throw new TypeError("The socket was closed before startTls completed.");
    raw.off("data", this.#onRawData);
    raw.off("end", this.#onRawEnd);
    raw.off("close", this.#onRawClose);
    raw.off("error", this.#onRawError);
    raw.pause();
    this.#readDone = true;
    if (!this.readable.locked && !this.writable.locked) {
      // As in workerd, the old socket's streams stay locked from now on: getReader() and getWriter() throw.
      this.readable.getReader();
      this.writable.getWriter();
      this.#writeDone = true;
    } else {
      // Locked again since startTls() (workerd's upgrade fails here, see the README): end them instead.
      const error = new TypeError("The socket was upgraded by startTls(); use the new socket.");
      this.#rc.error(error);
      this.#shutWritable(error);
    }
    this.#raw = undefined;
    this.#settled = true;
    this.#upgraded = true; // as in workerd: true once the old socket has handed over
    this.#closed.resolve();
    return raw;
  }
}

function noop(): void {}

/** The peer's end as Node saw it, waiting for a read (see NodeSocket#peerEnded). */
interface PeerEnd {
  /** What reads reject with; none: they end (done). */
  error?: Error;
  /** The connection is gone (a reset, a lost TLS connection): `closed` resolves at the end, allowHalfOpen or not. */
  gone: boolean;
}
