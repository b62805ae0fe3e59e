import { BatchedWriter } from "../batched-writer.js";
import { connectWithTimeout } from "../connect-with-timeout.js";
import { ClosedError, ProtocolError, ReplyError, TimeoutError, asConnectError } from "../errors.js";
import { utf8DecoderOf } from "../text.js";
import { readLoop } from "../read-loop.js";
import { subscribed, tracingOf, type RedisCommandTrace, type TracingChannelLike } from "../tracing.js";
import { onAbort, sleep, timer, type Timer } from "../timer.js";
import type { Connect, SocketAddress, SocketLike } from "../types.js";
import { RespDecoder, type RespLimits, type RespValue } from "./resp/decoder.js";
import { CommandBatch, type RedisArgument } from "./resp/encoder.js";

/** Per-command options. */
export interface CommandOptions {
  /** Rejects with `ETIMEDOUT` after this many milliseconds (the reply, if it comes later, is dropped). @default the client's commandTimeoutMs */
  timeoutMs?: number;
  /** Aborting rejects the command with `signal.reason` (a reply that comes later is dropped). */
  signal?: AbortSignal;
}

/** How a reply becomes the command's result. */
export type Transform<T> = (value: RespValue) => T;

export interface ConnectionSettings extends RespLimits {
  connect: Connect;
  address: SocketAddress;
  tls: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Runs first, with a `send` that bypasses the queue held for the handshake. */
  /** Returns the protocol the server agreed to. */
  handshake(send: <T>(args: RedisArgument[], transform?: Transform<T>) => Promise<T>): Promise<2 | 3>;
  /** Push frames (RESP3), and pub/sub messages of a RESP2 subscriber connection. */
  onPush?(frame: RespValue[]): void;
  /** RESP2 subscriber connection: pub/sub arrays arrive as replies and are routed as pushes. */
  resp2PubSub?: boolean;
  /** Called once when the connection fails or closes, with the reason. */
  onClosed?(error: Error): void;
  /** Wait this long before connecting (a reconnection's backoff). @default 0 */
  delayMs?: number;
  /** Called when the last reply owed has come (nothing is in flight or held). */
  onIdle?(): void;
  /** The database `SELECT`ed, for the tracing context. @default 0 */
  database?: number;
  /** Put commands' arguments in the `sockkit:redis:command` tracing context. @default false */
  traceArguments?: boolean;
  /** Which attempt this connection is, for the `sockkit:connect` tracing context. @default 1 */
  attempt?: number;
}

// Commands whose arguments are credentials: never in a tracing context, whatever traceArguments says.
const SECRET_ARGUMENTS = new Set(["AUTH", "HELLO", "MIGRATE", "ACL", "CONFIG"]);

function noop(): void {}

// Pub/sub confirmations: the reply to (UN)SUBSCRIBE and friends, one per channel.
const CONFIRMATIONS = new Set(["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"]);
const PUBSUB_KINDS = new Set([...CONFIRMATIONS, "message", "pmessage", "smessage"]);

interface Entry {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  transform: Transform<unknown> | undefined;
  buffers: boolean;
  name: string;
  /** Settled early (timeout, abort): its reply is dropped when it comes. */
  done: boolean;
  /** When the default command timeout expires (ms since epoch), or Infinity. */
  deadline: number;
  cleanup: (() => void) | undefined;
  /** Pub/sub confirmations still owed before this command is done (its reply comes as pushes). */
  confirmations: number;
  /** The confirmations' kind ("ssubscribe" for SSUBSCRIBE): a server-sent "sunsubscribe" is not one. */
  confirmKind: string | undefined;
  /** How many confirmations each name is still owed (a name may be given twice). */
  awaiting: Map<string, number> | undefined;
}

/**
 * One Redis connection: commands go out in auto-pipelined batches (all sent
 * in one tick share a write, and while a write is in flight the next batch
 * grows), replies are matched to commands strictly in order. Any protocol
 * error or loss of the connection rejects every command in flight with a
 * typed error and closes the socket.
 */
export class RedisConnection {
  readonly #settings: ConnectionSettings;
  readonly #decoder: RespDecoder;
  // Commands written or about to be, in write order; #head is the oldest awaiting a reply.
  #queue: Entry[] = [];
  #head = 0;
  readonly #batch = new CommandBatch();
  // User commands sent during the handshake wait here, after it.
  #held: CommandBatch | undefined = new CommandBatch();
  #heldEntries: Entry[] = [];
  #socket: SocketLike | undefined;
  #out: BatchedWriter | undefined;
  #failure: Error | undefined;
  #watchdog: Timer | undefined;
  #watchdogAt = Infinity;
  #closing: Promise<void> | undefined;
  #protocol: 2 | 3 = 2;
  #readyAt = 0; // when the handshake completed (Date.now()), 0 before
  readonly #stop = new AbortController();
  readonly #trace: TracingChannelLike | undefined;
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  #markClosed!: () => void;

  constructor(settings: ConnectionSettings) {
    this.#settings = settings;
    this.#trace = tracingOf(settings.connect)?.redisCommand;
    this.#decoder = new RespDecoder({
      maxBulkLength: settings.maxBulkLength,
      maxAggregateLength: settings.maxAggregateLength,
      maxDepth: settings.maxDepth,
      onReply: (value) => this.#onReply(value),
      onPush: (frame) => this.#onPushFrame(frame),
      returnBuffers: () => this.#queue[this.#head]?.buffers ?? false,
      decodeUtf8: utf8DecoderOf(settings.connect),
    });
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.ready = this.#open();
    this.ready.catch(() => {}); // observed through the commands it fails
  }

  /** The protocol the handshake agreed on (known once `ready` resolves). */
  get protocol(): 2 | 3 {
    return this.#protocol;
  }

  /** Whether the handshake ever completed. */
  get wasReady(): boolean {
    return this.#readyAt > 0;
  }

  /** When the handshake completed (`Date.now()`), 0 before. */
  get readyAt(): number {
    return this.#readyAt;
  }

  /** Commands waiting for the handshake (the offline queue while reconnecting). */
  get heldCount(): number {
    return this.#heldEntries.length;
  }

  /** Commands sent or held whose reply has not come yet. */
  get pendingCount(): number {
    return this.#queue.length - this.#head + this.#heldEntries.length;
  }

  /** Whether the connection has failed or been closed. */
  get isClosed(): boolean {
    return this.#failure !== undefined;
  }

  /** Sends one command; resolves with its (transformed) reply. */
  send<T>(args: RedisArgument[], transform?: Transform<T>, buffers = false, options?: CommandOptions): Promise<T> {
    const trace = this.#trace;
    if (trace !== undefined && subscribed(trace)) {
      const context = this.#traceContext(entryName(args[0]), args);
      return trace.tracePromise(
        () => this.#enqueue(args, transform, buffers, options, this.#held !== undefined),
        context,
      );
    }
    return this.#enqueue(args, transform, buffers, options, this.#held !== undefined);
  }

  /** The `sockkit:redis:command` context: the command's name, its arguments only when asked for. */
  #traceContext(command: string, args: RedisArgument[] | undefined, batchSize?: number): RedisCommandTrace {
    const s = this.#settings;
    const withArgs = args !== undefined && s.traceArguments === true && !SECRET_ARGUMENTS.has(command.toUpperCase());
    return {
      command,
      ...(withArgs ? { args: args.slice(1) } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      serverAddress: s.address.hostname,
      serverPort: s.address.port,
      database: s.database ?? 0,
    };
  }

  /**
   * Sends a (P|S)(UN)SUBSCRIBE for `count` channels: it is done when the
   * server has confirmed each, as push frames (RESP3) or pub/sub arrays (RESP2).
   */
  sendSubscription(args: RedisArgument[], count: number): Promise<void> {
    return this.#enqueue(args, undefined, false, undefined, this.#held !== undefined, count);
  }

  /**
   * (P|S)(UN)SUBSCRIBE as above, with the timeout and signal of `options`:
   * for a caller that must not wait forever on a server that never confirms.
   */
  sendSubscriptionWith(args: RedisArgument[], count: number, options: CommandOptions): Promise<void> {
    return this.#enqueue(args, undefined, false, options, this.#held !== undefined, count);
  }

  /** Sends several commands adjacent in one write; each gets its own promise. */
  sendMany(
    commands: ReadonlyArray<{ args: RedisArgument[]; transform?: Transform<unknown>; buffers?: boolean }>,
    options?: CommandOptions,
  ): Promise<unknown>[] {
    const trace = this.#trace;
    if (trace === undefined || !subscribed(trace)) return this.#sendMany(commands, options);
    // One event for the batch: a transaction is MULTI (its commands counted without MULTI and EXEC).
    const transaction = commands.length >= 2 && entryName(commands[0]!.args[0]).toUpperCase() === "MULTI";
    const context = this.#traceContext(
      transaction ? "MULTI" : "PIPELINE",
      undefined,
      transaction ? commands.length - 2 : commands.length,
    );
    let results!: Promise<unknown>[];
    trace.tracePromise(() => Promise.all((results = this.#sendMany(commands, options))), context).catch(noop);
    return results;
  }

  #sendMany(
    commands: ReadonlyArray<{ args: RedisArgument[]; transform?: Transform<unknown>; buffers?: boolean }>,
    options?: CommandOptions,
  ): Promise<unknown>[] {
    // All or nothing: one bad argument must not drop its command from the middle of a
    // MULTI … EXEC and shift every reply after it.
    try {
      const check = new CommandBatch();
      for (const command of commands) check.add(command.args);
    } catch (error) {
      return commands.map(() => Promise.reject(error));
    }
    const hold = this.#held !== undefined;
    return commands.map((c) => this.#enqueue(c.args, c.transform, c.buffers ?? false, options, hold));
  }

  /** Graceful close: commands already sent get their replies, then QUIT, then the socket closes. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      // A reconnection still in its backoff has nothing owed worth waiting for.
      if (this.#failure === undefined && !(this.#settings.delayMs && !this.wasReady)) {
        try {
          await this.ready;
          await this.#enqueue(
            ["QUIT"],
            undefined,
            false,
            { timeoutMs: Math.min(this.#settings.commandTimeoutMs, 5000) },
            false,
          );
        } catch {
          // A server that is gone or slow to answer QUIT is closed all the same.
        }
      }
      this.#fail(new ClosedError("the connection was closed"));
      await this.closed;
    })();
    return this.#closing;
  }

  /** Closes at once: every command in flight rejects with `ECLOSED`. */
  destroy(reason?: Error): void {
    this.#fail(reason ?? new ClosedError("the connection was destroyed"));
  }

  async #open(): Promise<void> {
    const { connect, address, tls, connectTimeoutMs, delayMs } = this.#settings;
    let socket: SocketLike;
    try {
      if (delayMs) await sleep(delayMs, this.#stop.signal); // a reconnection's backoff; destroy() cuts it short
      socket = await connectWithTimeout(connect, address, tls ? { secureTransport: "on" } : undefined, {
        timeoutMs: connectTimeoutMs,
        signal: this.#stop.signal,
        attempt: this.#settings.attempt ?? 1,
      });
    } catch (cause) {
      const error = asConnectError(cause, `${address.hostname}:${address.port}`, "connecting to Redis");
      this.#fail(error);
      throw error;
    }
    if (this.#failure) {
      await socket.close().catch(() => {});
      throw this.#failure;
    }
    this.#socket = socket;
    const batch = this.#batch;
    this.#out = new BatchedWriter(
      socket.writable.getWriter(),
      (cause) => this.#fail(new ClosedError("writing to Redis failed", { cause })),
      () => (batch.count > 0 ? batch.take() : undefined),
    );
    void this.#read(socket.readable.getReader());
    this.#out.schedule();
    try {
      // The handshake is part of connecting: it has the connect deadline, whatever commandTimeoutMs says.
      const deadline = { timeoutMs: this.#settings.connectTimeoutMs };
      this.#protocol = await this.#settings.handshake((args, transform) =>
        this.#enqueue(args, transform, false, deadline, false),
      );
    } catch (error) {
      this.#fail(error as Error);
      throw error;
    }
    const held = this.#held!;
    this.#held = undefined;
    if (this.#failure) throw this.#failure;
    const count = held.count; // before take(), which resets it
    this.#batch.append(held.take(), count);
    for (const entry of this.#heldEntries) this.#queue.push(entry);
    this.#heldEntries = [];
    this.#readyAt = Date.now();
    this.#out!.schedule();
  }

  #enqueue<T>(
    args: RedisArgument[],
    transform: Transform<T> | undefined,
    buffers: boolean,
    options: CommandOptions | undefined,
    hold: boolean,
    confirmations = 0,
  ): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const target = hold ? this.#held! : this.#batch;
    try {
      target.add(args);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options?.timeoutMs ?? this.#settings.commandTimeoutMs;
      const entry: Entry = {
        resolve: resolve as (value: unknown) => void,
        reject,
        transform,
        buffers,
        name: typeof args[0] === "string" ? args[0] : "command",
        done: false,
        deadline: Infinity,
        cleanup: undefined,
        confirmations,
        confirmKind: confirmations > 0 ? entryName(args[0]).toLowerCase() : undefined,
        awaiting: confirmations > 0 && args.length > 1 ? countNames(args) : undefined,
      };
      if (options?.timeoutMs !== undefined || signal) {
        // Own timer and listener; the shared watchdog serves the common case.
        const expire = () =>
          this.#expire(entry, new TimeoutError(`Redis ${entry.name} got no reply within ${timeoutMs} ms`, timeoutMs));
        const own = timer(timeoutMs, expire);
        own.start();
        const stop = onAbort(signal, () => this.#expire(entry, signal!.reason));
        entry.cleanup = () => {
          own.cancel();
          stop();
        };
      } else if (Number.isFinite(timeoutMs)) {
        entry.deadline = Date.now() + timeoutMs;
        this.#armWatchdog(entry.deadline);
      }
      (hold ? this.#heldEntries : this.#queue).push(entry);
      if (!hold) this.#out?.schedule();
    });
  }

  #expire(entry: Entry, error: unknown): void {
    if (entry.done) return;
    entry.done = true;
    entry.cleanup?.();
    entry.reject(error);
  }

  #armWatchdog(deadline: number): void {
    if (this.#watchdog !== undefined && this.#watchdogAt <= deadline) return;
    this.#watchdog?.cancel();
    this.#watchdogAt = deadline;
    this.#watchdog = timer(Math.max(0, deadline - Date.now()), () => this.#onWatchdog());
    this.#watchdog.start();
  }

  #onWatchdog(): void {
    this.#watchdog = undefined;
    this.#watchdogAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const list of [this.#queue, this.#heldEntries]) {
      for (let i = list === this.#queue ? this.#head : 0; i < list.length; i++) {
        const entry = list[i]!;
        if (entry.done || entry.deadline === Infinity) continue;
        const timeoutMs = this.#settings.commandTimeoutMs;
        if (entry.deadline <= now)
          this.#expire(entry, new TimeoutError(`Redis ${entry.name} got no reply within ${timeoutMs} ms`, timeoutMs));
        else if (entry.deadline < next) next = entry.deadline;
      }
    }
    if (next !== Infinity) this.#armWatchdog(next);
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      const ended = await readLoop(
        reader,
        (chunk) => this.#decoder.feed(chunk),
        () => this.#failure !== undefined,
      );
      if (ended) this.#fail(new ClosedError("the Redis server closed the connection"));
    } catch (error) {
      this.#fail(this.#failure ?? (error as Error));
    }
  }

  #onReply(value: RespValue): void {
    if (
      this.#settings.resp2PubSub &&
      Array.isArray(value) &&
      typeof value[0] === "string" &&
      PUBSUB_KINDS.has(value[0])
    ) {
      this.#onPushFrame(value);
      return;
    }
    const entry = this.#queue[this.#head];
    if (entry === undefined) throw new ProtocolError("Redis sent a reply no command was waiting for");
    this.#takeHead();
    if (this.#settings.onIdle !== undefined && this.pendingCount === 0) this.#settings.onIdle();
    if (entry.done) return;
    entry.done = true;
    entry.cleanup?.();
    if (value instanceof ReplyError) {
      value.command = entry.name;
      entry.reject(value);
      return;
    }
    if (entry.transform === undefined) {
      entry.resolve(value);
      return;
    }
    let result: unknown;
    try {
      result = entry.transform(value);
    } catch (error) {
      entry.reject(error);
      return;
    }
    entry.resolve(result);
  }

  #takeHead(): void {
    this.#queue[this.#head++] = undefined as never;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #onPushFrame(frame: RespValue[]): void {
    const kind = frame[0];
    const entry = this.#queue[this.#head];
    if (
      typeof kind === "string" &&
      CONFIRMATIONS.has(kind) &&
      entry !== undefined &&
      entry.confirmations > 0 &&
      kind === entry.confirmKind &&
      owed(entry, frame[1])
    ) {
      if (--entry.confirmations > 0) return;
      this.#takeHead();
      if (this.#settings.onIdle !== undefined && this.pendingCount === 0) this.#settings.onIdle();
      if (entry.done) return;
      entry.done = true;
      entry.cleanup?.();
      entry.resolve(undefined);
      return;
    }
    this.#settings.onPush?.(frame);
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#stop.abort(error);
    this.#watchdog?.cancel();
    this.#watchdog = undefined;
    this.#out?.fail(error);
    const pending = [...this.#queue.slice(this.#head), ...this.#heldEntries];
    this.#queue = [];
    this.#head = 0;
    this.#heldEntries = [];
    for (const entry of pending) this.#expire(entry, error);
    this.#settings.onClosed?.(error);
    const socket = this.#socket;
    const done = () => this.#markClosed();
    if (socket) socket.close().then(done, done);
    else done();
  }
}

function entryName(arg: RedisArgument | undefined): string {
  return typeof arg === "string" ? arg : "command";
}

/** The names of a (P|S)(UN)SUBSCRIBE, counted. */
function countNames(args: RedisArgument[]): Map<string, number> {
  const names = new Map<string, number>();
  for (let i = 1; i < args.length; i++) {
    const name = String(args[i]);
    names.set(name, (names.get(name) ?? 0) + 1);
  }
  return names;
}

/**
 * Whether `name` is one the entry still waits a confirmation for (and takes
 * it): a server-sent notice for another channel (Redis 7 sends
 * "sunsubscribe" when a slot moves away) is passed on, not counted.
 */
function owed(entry: Entry, name: RespValue | undefined): boolean {
  if (entry.awaiting === undefined) return true;
  const key = String(name);
  const left = entry.awaiting.get(key);
  if (left === undefined) return false;
  if (left === 1) entry.awaiting.delete(key);
  else entry.awaiting.set(key, left - 1);
  return true;
}
