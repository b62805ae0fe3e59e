import { describeAddress, parseSocketAddress } from "./address.js";
import { asyncDispose } from "./async-dispose.js";
import { connectWithTimeout } from "./connect-with-timeout.js";
import { PoolError, TimeoutError } from "./errors.js";
import { onAbort, timer, type Timer } from "./timer.js";
import type { Connect, SocketAddress, SocketLike, SocketOptions } from "./types.js";

/** Options for {@link SocketPool}. */
export interface SocketPoolOptions {
  /** How to open sockets. */
  connect: Connect;
  /**
   * Most sockets per destination (host, port and TLS mode).
   * @default 6 (a Workers request may hold 6 simultaneous outgoing connections)
   */
  maxPerKey?: number;
  /** Most sockets in the whole pool. @default 6 */
  maxTotal?: number;
  /** Most callers waiting for a socket; one more is refused at once. @default 100 */
  maxWaiting?: number;
  /** How long `acquire()` may wait, in milliseconds (`TimeoutError`, `code: "ETIMEDOUT"`). @default 10000 */
  acquireTimeoutMs?: number;
  /** Connect timeout for each new socket, in milliseconds. @default 10000 */
  connectTimeoutMs?: number;
  /** An idle socket is closed after this many milliseconds. @default 30000 */
  idleTimeoutMs?: number;
  /** Checked before an idle socket is handed out again; `false` closes it and tries the next. */
  validate?: (socket: SocketLike) => boolean | Promise<boolean>;
  /** After this many failed connects in a row to one destination, its waiters are rejected at once. @default 3 */
  maxConsecutiveFailures?: number;
}

/** A socket on loan from the pool. Release it (or destroy it) exactly once; `await using` releases. */
export interface PooledSocket {
  readonly socket: SocketLike;
  /** Returns the socket for reuse. Only release a socket whose last reply was read in full. */
  release(): void;
  /** Closes the socket instead of returning it. */
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** What {@link SocketPool.stats} reports. */
export interface SocketPoolStats {
  /** Sockets open or opening. */
  total: number;
  idle: number;
  inUse: number;
  /** Callers waiting in `acquire()`. */
  waiting: number;
}

interface Entry {
  key: string;
  socket: SocketLike;
  dead: boolean;
  idleTimer?: Timer;
  /**
   * The pool holds the socket's reader for the socket's whole life (workerd
   * cannot release a reader with a read outstanding), and lends each borrower
   * a view of it. While idle, a read stays outstanding: EOF or unexpected
   * bytes then mean the socket must not be lent again.
   */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Held for the same reason: the pool can always abort a write the peer blocks. */
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Borrowers' writes not yet finished. */
  writing: number;
  /** The read in flight (or finished and not yet consumed). */
  pending?: Promise<ReadableStreamReadResult<Uint8Array>>;
  /** The current borrower's view; undefined while idle. */
  view?: object;
}

interface Waiter {
  /** Resolved or rejected already (timed out or aborted while its socket was being readied). */
  settled: boolean;
  key: string;
  address: string | SocketAddress;
  options: SocketOptions | undefined;
  resolve(lease: PooledSocket): void;
  reject(error: unknown): void;
  cleanup(): void;
}

const NOT_YET = Symbol("not yet");

const duration = (value: number, name: string) => {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative number of milliseconds (Infinity for none), got ${value}`);
  }
  return value;
};

const positive = (value: number, name: string) => {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${value}`);
  return value;
};

/**
 * A pool of sockets keyed by destination and TLS mode: bounded per key and
 * in total, FIFO waiters with a timeout and `signal`, idle eviction, and
 * never a socket that is closed or was ended by the peer.
 *
 * On Workers a pool lives inside one request (or one Durable Object), never
 * at module scope: sockets cannot be shared across requests.
 */
export class SocketPool {
  readonly #connect: Connect;
  readonly #maxPerKey: number;
  readonly #maxTotal: number;
  readonly #maxWaiting: number;
  readonly #acquireTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #validate: ((socket: SocketLike) => boolean | Promise<boolean>) | undefined;
  readonly #maxFailures: number;
  #entries = new Set<Entry>();
  #idle = new Map<string, Entry[]>();
  #pending = new Map<string, number>(); // connects in flight, counted toward the limits
  #waiters: Waiter[] = [];
  #failures = new Map<string, number>();
  #draining = false;
  #opening = new Set<Promise<void>>();
  // Released sockets being looked at before they go idle, per destination: waiters wait for them.
  #returning = new Map<string, number>();

  constructor(options: SocketPoolOptions) {
    if (typeof options?.connect !== "function") throw new TypeError("SocketPool needs a connect function");
    this.#connect = options.connect;
    this.#maxPerKey = positive(options.maxPerKey ?? 6, "maxPerKey");
    this.#maxTotal = positive(options.maxTotal ?? 6, "maxTotal");
    this.#maxWaiting = Math.max(0, options.maxWaiting ?? 100);
    this.#acquireTimeoutMs = duration(options.acquireTimeoutMs ?? 10_000, "acquireTimeoutMs");
    this.#connectTimeoutMs = duration(options.connectTimeoutMs ?? 10_000, "connectTimeoutMs");
    this.#idleTimeoutMs = duration(options.idleTimeoutMs ?? 30_000, "idleTimeoutMs");
    this.#validate = options.validate;
    this.#maxFailures = positive(options.maxConsecutiveFailures ?? 3, "maxConsecutiveFailures");
  }

  /** Borrows a socket to `address`: an idle one, a new one, or the next one released. */
  acquire(address: string | SocketAddress, options?: SocketOptions & { signal?: AbortSignal }): Promise<PooledSocket> {
    if (this.#draining) return Promise.reject(new PoolError("the pool is draining"));
    const { signal, ...socketOptions } = options ?? {};
    if (signal?.aborted) return Promise.reject(signal.reason);
    let key: string;
    try {
      const parsed = parseSocketAddress(address);
      key = `${parsed.hostname}:${parsed.port}|${socketOptions.secureTransport ?? "off"}`;
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#waiters.length >= this.#maxWaiting && !this.#hasIdle(key) && !this.#hasRoom(key)) {
      return Promise.reject(new PoolError(`too many callers waiting for a socket (maxWaiting ${this.#maxWaiting})`));
    }
    return new Promise<PooledSocket>((resolve, reject) => {
      const deadline = timer(this.#acquireTimeoutMs, () => {
        this.#removeWaiter(waiter);
        waiter.reject(
          new TimeoutError(
            `no socket to ${describeAddress(address)} within ${this.#acquireTimeoutMs} ms`,
            this.#acquireTimeoutMs,
          ),
        );
      });
      const stopListening = onAbort(signal, () => {
        this.#removeWaiter(waiter);
        waiter.reject(signal!.reason);
      });
      const waiter: Waiter = {
        settled: false,
        key,
        address,
        options: Object.keys(socketOptions).length > 0 ? socketOptions : undefined,
        resolve: (lease) => {
          waiter.settled = true;
          resolve(lease);
        },
        reject: (error) => {
          waiter.settled = true;
          reject(error);
        },
        cleanup: () => {
          deadline.cancel();
          stopListening();
        },
      };
      deadline.start();
      this.#waiters.push(waiter);
      void this.#dispatch();
    });
  }

  /** Counts of what the pool holds. */
  stats(): SocketPoolStats {
    let idle = 0;
    for (const list of this.#idle.values()) idle += list.length;
    let pending = 0;
    for (const n of this.#pending.values()) pending += n;
    return {
      total: this.#entries.size + pending,
      idle,
      inUse: this.#entries.size - idle,
      waiting: this.#waiters.length,
    };
  }

  /**
   * Ends the pool: rejects every waiter and new `acquire()`, and closes every
   * socket, idle or on loan (a borrower still using one sees it closed).
   */
  async drain(): Promise<void> {
    this.#draining = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.cleanup();
      waiter.reject(new PoolError("the pool is draining"));
    }
    this.#idle.clear();
    await Promise.all([...this.#entries].map((entry) => this.#kill(entry)));
    // Connects still under way close their socket themselves once they settle.
    await Promise.all([...this.#opening]);
  }

  async [asyncDispose](): Promise<void> {
    await this.drain();
  }

  #hasIdle(key: string): boolean {
    return (this.#idle.get(key)?.length ?? 0) > 0;
  }

  #countFor(key: string): number {
    let n = this.#pending.get(key) ?? 0;
    for (const entry of this.#entries) if (entry.key === key) n++;
    return n;
  }

  #hasRoom(key: string): boolean {
    return this.stats().total < this.#maxTotal && this.#countFor(key) < this.#maxPerKey;
  }

  #removeWaiter(waiter: Waiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
    waiter.cleanup();
  }

  /** Serves waiters in order while idle sockets or room allow. */
  async #dispatch(): Promise<void> {
    if (this.#draining) return;
    for (let i = 0; i < this.#waiters.length; i++) {
      const waiter = this.#waiters[i]!;
      const idle = this.#idle.get(waiter.key);
      if (idle && idle.length > 0) {
        this.#waiters.splice(i--, 1);
        const entry = idle.shift()!;
        void this.#handOver(entry, waiter);
        continue;
      }
      if ((this.#returning.get(waiter.key) ?? 0) > 0) continue; // one is coming back: reuse it
      if (!this.#hasRoom(waiter.key)) {
        // Room taken by idle sockets of other destinations: evict one.
        if (this.#countFor(waiter.key) < this.#maxPerKey && this.#evictIdleOtherThan(waiter.key)) i--;
        continue;
      }
      this.#waiters.splice(i--, 1);
      void this.#open(waiter);
    }
  }

  #evictIdleOtherThan(key: string): boolean {
    for (const [other, list] of this.#idle) {
      if (other !== key && list.length > 0) {
        void this.#kill(list.shift()!);
        return true;
      }
    }
    return false;
  }

  async #handOver(entry: Entry, waiter: Waiter): Promise<void> {
    entry.idleTimer?.cancel();
    let ok = !entry.dead;
    if (ok && this.#validate) ok = await Promise.resolve(this.#validate(entry.socket)).catch(() => false);
    if (this.#draining) {
      waiter.cleanup();
      waiter.reject(new PoolError("the pool is draining"));
      return void this.#kill(entry);
    }
    if (!ok || entry.dead) {
      await this.#kill(entry);
      if (!waiter.settled) this.#waiters.unshift(waiter); // keep its place in line
      return void this.#dispatch();
    }
    // The caller gave up (timeout or abort) while the socket was checked: keep it for the next one.
    if (waiter.settled) return this.#putBack(entry);
    waiter.cleanup();
    waiter.resolve(this.#lease(entry));
  }

  #open(waiter: Waiter): Promise<void> {
    const opening = this.#openSocket(waiter).finally(() => this.#opening.delete(opening));
    this.#opening.add(opening);
    return opening;
  }

  async #openSocket(waiter: Waiter): Promise<void> {
    const { key } = waiter;
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    let socket: SocketLike | undefined;
    let failure: unknown;
    try {
      socket = await connectWithTimeout(this.#connect, waiter.address, waiter.options, {
        timeoutMs: this.#connectTimeoutMs,
      });
    } catch (error) {
      failure = error;
    }
    this.#pending.set(key, (this.#pending.get(key) ?? 1) - 1);
    if (!socket) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      waiter.cleanup();
      waiter.reject(failure);
      if (failures >= this.#maxFailures) {
        // Fail fast instead of letting every queued caller try (and wait for) the same broken destination.
        for (const other of this.#waiters.filter((w) => w.key === key)) {
          this.#removeWaiter(other);
          other.reject(failure);
        }
        this.#failures.set(key, 0);
      }
      return void this.#dispatch();
    }
    this.#failures.set(key, 0);
    const entry: Entry = {
      key,
      socket,
      dead: false,
      reader: socket.readable.getReader(),
      writer: socket.writable.getWriter(),
      writing: 0,
    };
    this.#entries.add(entry);
    socket.closed.then(
      () => this.#markDead(entry),
      () => this.#markDead(entry),
    );
    if (this.#draining) {
      waiter.cleanup();
      waiter.reject(new PoolError("the pool is draining"));
      return void this.#kill(entry);
    }
    // The caller gave up (timeout or abort) while this socket was opening: keep it for the next one.
    if (waiter.settled) return this.#putBack(entry);
    waiter.cleanup();
    waiter.resolve(this.#lease(entry));
  }

  #lease(entry: Entry): PooledSocket {
    let done = false;
    const view = {};
    entry.view = view;
    const release = () => {
      if (done) return;
      done = true;
      entry.view = undefined;
      this.#putBack(entry);
    };
    const destroy = async () => {
      if (done) return;
      done = true;
      entry.view = undefined;
      await this.#kill(entry);
    };
    const { socket } = entry;
    const readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          if (entry.view !== view) return controller.error(new TypeError("this pooled socket was released"));
          const read = (entry.pending ??= entry.reader.read());
          let result: ReadableStreamReadResult<Uint8Array>;
          try {
            result = await read;
          } catch (error) {
            entry.dead = true;
            return controller.error(error);
          }
          if (entry.view !== view) return controller.error(new TypeError("this pooled socket was released"));
          if (entry.pending === read) entry.pending = undefined;
          if (result.done) {
            entry.dead = true;
            controller.close();
          } else controller.enqueue(result.value);
        },
        cancel: () => {
          entry.dead = true; // the borrower gave up mid-reply: not reusable
        },
      },
      { highWaterMark: 0 },
    );
    const released = () => new TypeError("this pooled socket was released");
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (entry.view !== view) throw released();
        entry.writing++;
        try {
          await entry.writer.write(chunk);
        } finally {
          entry.writing--;
        }
      },
      // Half-closing or aborting ends the socket's usefulness to the pool.
      close: () => {
        entry.dead = true;
        return entry.writer.close();
      },
      abort: (reason) => {
        entry.dead = true;
        return entry.writer.abort(reason);
      },
    });
    const lent: SocketLike = {
      readable,
      writable,
      opened: socket.opened,
      closed: socket.closed,
      get upgraded() {
        return socket.upgraded;
      },
      secureTransport: socket.secureTransport,
      close: destroy,
      startTls: () => {
        throw new TypeError(
          "startTls() is not available on a pooled socket; pool the upgraded socket's destination with secureTransport 'on'",
        );
      },
    };
    return { socket: lent, release, destroy, [asyncDispose]: async () => release() };
  }

  #putBack(entry: Entry): void {
    if (entry.dead || this.#draining) return void this.#kill(entry);
    const watching = (entry.pending ??= entry.reader.read());
    watching.then(
      () => {
        if (entry.view === undefined) this.#markDead(entry);
      },
      () => this.#markDead(entry),
    );
    // Bytes the last borrower left unread, or an EOF already seen, finish that
    // read at once (or within a turn of the event loop, in workerd): look
    // before lending the socket again.
    this.#returning.set(entry.key, (this.#returning.get(entry.key) ?? 0) + 1);
    const returned = () => this.#returning.set(entry.key, (this.#returning.get(entry.key) ?? 1) - 1);
    void Promise.race([watching, new Promise((resolve) => setTimeout(resolve, 0, NOT_YET))]).then(
      (result) => {
        returned();
        if (result === NOT_YET) this.#makeIdle(entry);
        else void this.#kill(entry);
      },
      () => {
        returned();
        void this.#kill(entry);
      },
    );
  }

  #makeIdle(entry: Entry): void {
    if (entry.dead || this.#draining) return void this.#kill(entry);
    entry.idleTimer = timer(this.#idleTimeoutMs, () => {
      const list = this.#idle.get(entry.key);
      const i = list?.indexOf(entry) ?? -1;
      if (i >= 0) list!.splice(i, 1);
      void this.#kill(entry);
    });
    entry.idleTimer.start();
    const list = this.#idle.get(entry.key) ?? [];
    list.push(entry);
    this.#idle.set(entry.key, list);
    void this.#dispatch();
  }

  #markDead(entry: Entry): void {
    if (entry.dead) return;
    entry.dead = true;
    const list = this.#idle.get(entry.key);
    const i = list?.indexOf(entry) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      void this.#kill(entry);
    }
  }

  async #kill(entry: Entry): Promise<void> {
    entry.dead = true;
    entry.view = undefined;
    entry.idleTimer?.cancel();
    if (this.#entries.delete(entry)) {
      // close() flushes first: abort a write the peer blocks, so closing cannot hang.
      // (Only then: in workerd an aborted socket stays open until the request ends.)
      if (entry.writing > 0) entry.writer.abort(new PoolError("closed by the pool")).catch(() => {});
      await entry.socket.close().catch(() => {});
      void this.#dispatch(); // room for a waiter
    }
  }
}
