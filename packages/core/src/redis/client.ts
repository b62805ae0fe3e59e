import { parseSocketAddress } from "../address.js";
import { asyncDispose } from "../async-dispose.js";
import { ReconnectBackoff, reconnectSettings, type BackoffOptions } from "../backoff.js";
import { ClosedError, ReplyError } from "../errors.js";
import { decodeUtf8 } from "../text.js";
import type { Connect, SocketAddress } from "../types.js";
import { RedisCommands } from "./commands.js";
import { RedisConnection, type CommandOptions, type Transform } from "./connection.js";
import type { RespLimits, RespValue } from "./resp/decoder.js";
import type { RedisArgument } from "./resp/encoder.js";
import { PubSub, type PubSubMessage, type RedisSubscribeOptions, type RedisSubscription } from "./pubsub.js";
import { parseRedisUrl } from "./url.js";

/** Options for {@link createRedisClient}. */
export interface RedisClientOptions extends RespLimits {
  /** `connect` from `cloudflare:sockets`, `@sockkit/adapter-workers` or `@sockkit/adapter-node`. */
  connect: Connect;
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. Options given here win over the URL. */
  url?: string;
  /** `"host:port"` or `{ hostname, port }`, instead of `url`. @default "127.0.0.1:6379" when neither is given */
  address?: string | SocketAddress;
  /** ACL user name. @default "default" when a password is given */
  username?: string;
  /** Password (`AUTH`). @default none */
  password?: string;
  /** Database index (`SELECT`). @default 0 */
  db?: number;
  /**
   * Protocol version. 3 sends `HELLO 3` (maps, sets, doubles, push frames)
   * and falls back to RESP2 with `AUTH`/`SELECT` on a server without
   * `HELLO` (Redis < 6); 2 speaks RESP2. Typed commands return the same
   * shape either way.
   * @default 3
   */
  protocol?: 2 | 3;
  /** TLS (`secureTransport: "on"`), with certificate and hostname checks. @default true for rediss:// URLs, else false */
  tls?: boolean;
  /** Name shown in `CLIENT LIST`. @default none */
  clientName?: string;
  /** Connect and handshake deadline, in milliseconds. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Each command's deadline, in milliseconds; a late reply is dropped. Pass
   * Infinity (here, or per call with `client.with({ timeoutMs })`) for
   * blocking commands.
   * @default 30000
   */
  commandTimeoutMs?: number;
  /**
   * Put each command's arguments (keys and values) in the `sockkit:redis:command` tracing context.
   * Off, a tracer sees command names only; `AUTH`, `HELLO`, `ACL`, `CONFIG` and `MIGRATE` never
   * carry theirs.
   * @default false
   */
  traceArguments?: boolean;
  /**
   * Reconnect after the connection is lost, with capped exponential backoff
   * and jitter, and resubscribe every live subscription. Commands in flight
   * when it is lost still reject (`ECLOSED`): whether they ran is unknown, so
   * nothing is retried behind your back. Commands sent while reconnecting
   * wait in a bounded queue and fail if the attempt fails. For long-lived
   * Node processes (or a Durable Object); a Worker request wants a client of
   * its own, closed at the end.
   * @default false
   */
  reconnect?: boolean | ReconnectOptions;
}

/** Reconnection settings (see {@link RedisClientOptions.reconnect}). */
export interface ReconnectOptions extends BackoffOptions {
  /** Commands that may wait while reconnecting; past it they reject at once with `ECLOSED`. @default 1000 */
  maxOfflineCommands?: number;
}

type ClientSettings = Omit<RedisClientOptions, "reconnect"> & {
  reconnect: Required<ReconnectOptions> | undefined;
  hostname: string;
  port: number;
  tls: boolean;
  protocol: 2 | 3;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
};

/** The result of each command of a pipeline or transaction: its value, or the `ReplyError` it failed with. */
export type BatchResult = RespValue | ReplyError | unknown;

/** Commands queued for a pipeline or transaction; each method's promise settles when the batch runs. */
export class RedisBatch extends RedisCommands {
  /** @internal */
  readonly commands: Array<{
    args: RedisArgument[];
    transform?: Transform<unknown>;
    buffers?: boolean;
    settle?: (result: Promise<unknown>) => void;
  }> = [];

  protected call<T>(args: RedisArgument[], transform?: Transform<T>, buffers?: boolean): Promise<T> {
    let settle!: (result: Promise<unknown>) => void;
    const result = new Promise<T>((resolve) => {
      settle = (outcome) => resolve(outcome as Promise<T>);
    });
    result.catch(() => {}); // the batch's own result reports failures; an unread promise is not an unhandled one
    this.commands.push({ args, transform: transform as Transform<unknown> | undefined, buffers, settle });
    return result;
  }
}

/**
 * A Redis client for Workers and Node. Commands issued in the same tick are
 * written together; replies are matched strictly in order. Without
 * reconnection (the default; Workers want a client per request) a lost
 * connection closes the client: create a new one.
 */
export class RedisClient extends RedisCommands {
  readonly #settings: ClientSettings;
  #connection: RedisConnection | undefined;
  #subscriber: RedisConnection | undefined;
  readonly #pubsub: PubSub = new PubSub(() => this.#subscriptionConnection());
  #closed = false;
  readonly #options: CommandOptions | undefined;
  readonly #root: RedisClient | undefined;
  readonly #scripts = new Map<string, string>();
  readonly #backoff: ReconnectBackoff | undefined;

  /** @internal use {@link createRedisClient} */
  constructor(settings: ClientSettings, root?: RedisClient, options?: CommandOptions) {
    super();
    this.#settings = settings;
    this.#root = root;
    this.#backoff = settings.reconnect ? new ReconnectBackoff(settings.reconnect) : undefined;
    this.#options = options;
  }

  /** The same client with per-command options (a timeout, an `AbortSignal`) for the commands sent through it. */
  with(options: CommandOptions): RedisClient {
    return new RedisClient(this.#settings, this.#root ?? this, { ...this.#options, ...options });
  }

  /** Connects and runs the handshake now rather than with the first command. */
  async connect(): Promise<void> {
    await this.#live().ready;
  }

  protected call<T>(args: RedisArgument[], transform?: Transform<T>, buffers = false): Promise<T> {
    const root = this.#root ?? this;
    if (root.#closed) return Promise.reject(closedClient());
    let connection: RedisConnection;
    try {
      connection = root.#live();
    } catch (error) {
      return Promise.reject(error);
    }
    const reconnect = root.#settings.reconnect;
    if (reconnect && !connection.wasReady && connection.heldCount >= reconnect.maxOfflineCommands) {
      return Promise.reject(
        new ClosedError(
          `Redis is reconnecting and ${reconnect.maxOfflineCommands} commands are already waiting (maxOfflineCommands)`,
        ),
      );
    }
    return connection.send(args, transform, buffers, this.#options);
  }

  /**
   * Sends the commands `build` queues in one write, adjacent, and resolves
   * with each one's result (a failed command's entry is its `ReplyError`).
   */
  async pipeline(build: (batch: RedisBatch) => void): Promise<BatchResult[]> {
    const batch = new RedisBatch();
    build(batch);
    const root = this.#root ?? this;
    if (root.#closed) throw closedClient();
    const results = root.#live().sendMany(batch.commands, this.#options);
    batch.commands.forEach((command, i) => command.settle!(results[i]!));
    const settled = await Promise.allSettled(results);
    return settled.map((outcome) => {
      if (outcome.status === "fulfilled") return outcome.value;
      if (outcome.reason instanceof ReplyError) return outcome.reason;
      throw outcome.reason; // the connection failed: nothing is known about the rest
    });
  }

  /**
   * `MULTI`, the commands `build` queues, `EXEC`: resolves with each
   * command's result (a command that failed while running is its
   * `ReplyError`), or null when a `WATCH`ed key changed. A command Redis
   * refuses to queue aborts the whole transaction (`EXECABORT`).
   */
  async multi(build: (tx: RedisBatch) => void): Promise<BatchResult[] | null> {
    const batch = new RedisBatch();
    build(batch);
    const root = this.#root ?? this;
    if (root.#closed) throw closedClient();
    // EXEC's reply is one array: decode it as bytes if any command wants bytes, and turn
    // the others' bytes back into text below.
    const anyBuffers = batch.commands.some((c) => c.buffers);
    const commands = [
      { args: ["MULTI"] as RedisArgument[] },
      ...batch.commands.map((c) => ({ args: c.args })),
      { args: ["EXEC"] as RedisArgument[], buffers: anyBuffers },
    ];
    const results = root.#live().sendMany(commands, this.#options);
    for (const queued of results.slice(0, -1)) queued.catch(() => {}); // reported through EXEC
    let exec: RespValue;
    try {
      exec = (await results.at(-1)) as RespValue;
    } catch (error) {
      const failure = Promise.reject(error);
      batch.commands.forEach((command) => command.settle!(failure));
      throw error;
    }
    return settleTransaction(batch.commands, exec, anyBuffers);
  }

  /**
   * Runs a Lua script by its SHA1 (`EVALSHA`), sending the source once
   * (`EVAL`) when the server does not have it yet (`NOSCRIPT`).
   */
  async runScript(
    script: string,
    keys: readonly RedisArgument[] = [],
    args: readonly RedisArgument[] = [],
  ): Promise<RespValue> {
    const root = this.#root ?? this;
    let sha = root.#scripts.get(script);
    if (sha === undefined) {
      sha = await sha1(script);
      root.#scripts.set(script, sha);
    }
    try {
      return await this.evalsha(sha, keys, args);
    } catch (error) {
      if (error instanceof ReplyError && error.prefix === "NOSCRIPT") return this.eval(script, keys, args);
      throw error;
    }
  }

  /**
   * Listens on channels. With a `listener` it gets each message; without,
   * the returned subscription is an async iterator of them. On RESP3 the
   * subscription shares the command connection; on RESP2 it opens one more.
   */
  subscribe(
    channels: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    return this.#subscribe("channel", channels, listener, options);
  }

  /** Listens on glob patterns (`PSUBSCRIBE`); messages carry the `pattern` that matched. */
  psubscribe(
    patterns: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    return this.#subscribe("pattern", patterns, listener, options);
  }

  /** Listens on shard channels (`SSUBSCRIBE`, Redis 7). */
  ssubscribe(
    channels: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    return this.#subscribe("shard", channels, listener, options);
  }

  /**
   * Runs `fn` with a client on a connection of its own (for `WATCH`, blocking
   * commands, or anything that must not share the pipeline), closed after.
   */
  async isolated<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const root = this.#root ?? this;
    if (root.#closed) throw closedClient();
    const own = new RedisClient(root.#settings);
    try {
      return await fn(this.#options ? own.with(this.#options) : own);
    } finally {
      await own.close();
    }
  }

  /**
   * Optimistic locking: `WATCH keys` on a connection of its own, then `fn`
   * (read, then `tx.multi(...)`); `multi` resolves with null if a watched
   * key changed meanwhile, so `fn` can retry.
   */
  watch<T>(keys: readonly RedisArgument[], fn: (tx: RedisClient) => Promise<T>): Promise<T> {
    if (keys.length === 0) return Promise.reject(new TypeError("watch needs at least one key"));
    return this.isolated(async (tx) => {
      await tx.send("WATCH", ...keys);
      return fn(tx);
    });
  }

  /** The protocol the server agreed to (after the first command or `connect()`), or undefined before. */
  get protocol(): 2 | 3 | undefined {
    const connection = (this.#root ?? this).#connection;
    return connection && !connection.isClosed ? connection.protocol : undefined;
  }

  /** Replies still owed and sent `QUIT`, then closes. Subscriptions end. Idempotent. */
  async close(): Promise<void> {
    const root = this.#root ?? this;
    root.#closed = true;
    root.#pubsub.failAll(undefined);
    await Promise.all([root.#connection?.close(), root.#subscriber?.close()]);
  }

  /** Closes at once; commands in flight reject with `ECLOSED`, subscriptions fail with it. */
  destroy(): void {
    const root = this.#root ?? this;
    root.#closed = true;
    const error = new ClosedError("the Redis client was destroyed");
    root.#pubsub.failAll(error);
    root.#connection?.destroy(error);
    root.#subscriber?.destroy(error);
  }

  #subscribe(
    family: "channel" | "pattern" | "shard",
    names: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    const root = this.#root ?? this;
    if (root.#closed) return Promise.reject(closedClient());
    return root.#pubsub.subscribe(family, names, listener, options);
  }

  async #subscriptionConnection(): Promise<RedisConnection> {
    if (this.#closed) throw closedClient();
    const main = this.#live();
    await main.ready;
    if (main.protocol === 3) return main;
    if (this.#subscriber === undefined || this.#subscriber.isClosed) {
      this.#subscriber = this.#openConnection(true);
    }
    await this.#subscriber.ready;
    return this.#subscriber;
  }

  async [asyncDispose](): Promise<void> {
    await this.close();
  }

  #live(): RedisConnection {
    const reconnect = this.#settings.reconnect;
    if (this.#connection === undefined || (this.#connection.isClosed && reconnect && !this.#closed)) {
      // After a quick loss or a failed attempt the next command waits out the backoff; else it connects now.
      const backoff = this.#backoff;
      this.#connection = this.#openConnection(false, backoff && backoff.steps > 0 ? backoff.delay() : 0);
    } else if (this.#connection.isClosed) {
      // No reconnection: a lost connection closes the client.
      this.#closed = true;
      this.#connection.destroy();
      throw closedClient();
    }
    return this.#connection;
  }

  #openConnection(subscriber = false, delayMs = 0): RedisConnection {
    const s = subscriber ? { ...this.#settings, protocol: 2 as const } : this.#settings;
    const connection: RedisConnection = new RedisConnection({
      resp2PubSub: subscriber,
      delayMs,
      onPush: (frame) => {
        this.#pubsub.dispatch(frame);
      },
      onClosed: (error) => this.#lost(connection, subscriber, error),
      connect: s.connect,
      address: { hostname: s.hostname, port: s.port },
      tls: s.tls,
      connectTimeoutMs: s.connectTimeoutMs,
      commandTimeoutMs: s.commandTimeoutMs,
      database: s.db ?? 0,
      traceArguments: s.traceArguments === true,
      attempt: this.#backoff?.attempt ?? 1,
      maxBulkLength: s.maxBulkLength,
      maxAggregateLength: s.maxAggregateLength,
      maxDepth: s.maxDepth,
      handshake: (send) => handshake(send, s),
    });
    connection.ready.then(
      () => {
        this.#backoff?.up(); // a handshake that completed ends a run of failed attempts
        // A reconnection (or the RESP2 subscriber): once up, listen again on every live subscription.
        const carriesSubscriptions = subscriber || connection.protocol === 3;
        if (carriesSubscriptions && delayMs > 0) this.#pubsub.resubscribe(connection);
      },
      () => {},
    );
    return connection;
  }

  /** A connection failed or closed: reconnect if asked to, else end what depended on it. */
  #lost(connection: RedisConnection, subscriber: boolean, error: Error): void {
    const reconnect = this.#settings.reconnect;
    const current = subscriber ? this.#subscriber : this.#connection;
    if (connection !== current) return; // an old connection, already replaced
    const carriedSubscriptions = subscriber || (connection.wasReady && connection.protocol === 3);
    if (!reconnect || this.#closed) {
      if (carriedSubscriptions || !this.#pubsub.active) this.#pubsub.failAll(error);
      return;
    }
    const backoff = this.#backoff!;
    // A connection lost soon after its handshake makes the next wait longer (see ReconnectBackoff).
    if (connection.wasReady) backoff.lost(connection.readyAt);
    else if (!backoff.failed()) {
      this.#closed = true;
      this.#pubsub.failAll(error);
      this.#subscriber?.destroy(error);
      return;
    }
    // Reconnect now only where subscriptions need it, or to retry a failed attempt; otherwise
    // the next command does (#live), after the same backoff.
    if (!carriedSubscriptions && connection.wasReady) return;
    const next = this.#openConnection(subscriber, backoff.delay());
    if (subscriber) this.#subscriber = next;
    else this.#connection = next;
  }
}

/** HELLO (or AUTH and CLIENT SETNAME on Redis < 6) and SELECT; resolves with the protocol agreed. */
export async function handshake(
  send: <T>(args: RedisArgument[], transform?: Transform<T>) => Promise<T>,
  s: RedisClientOptions & { protocol: 2 | 3 },
): Promise<2 | 3> {
  const auth: RedisArgument[] = s.password !== undefined ? ["AUTH", s.username ?? "default", s.password] : [];
  const name: RedisArgument[] = s.clientName !== undefined ? ["SETNAME", s.clientName] : [];
  let needAuth = false;
  let protocol: 2 | 3 = s.protocol;
  try {
    await send(["HELLO", s.protocol, ...auth, ...name]);
  } catch (error) {
    // Redis < 6 has no HELLO: speak RESP2, authenticate the old way.
    // Typed commands have one shape on both protocols, so falling back is safe.
    if (!(error instanceof ReplyError) || !/unknown command/i.test(error.message)) throw error;
    needAuth = s.password !== undefined;
    protocol = 2;
    if (s.clientName !== undefined) await send(["CLIENT", "SETNAME", s.clientName]);
  }
  const steps: Promise<unknown>[] = [];
  if (needAuth) steps.push(send(s.username !== undefined ? ["AUTH", s.username, s.password!] : ["AUTH", s.password!]));
  if (s.db !== undefined && s.db !== 0) steps.push(send(["SELECT", s.db]));
  await Promise.all(steps);
  return protocol;
}

/** Creates a client. Nothing connects until the first command (or `connect()`). */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  if (typeof options !== "object" || options === null)
    throw new TypeError("createRedisClient() expects an options object");
  if (typeof options.connect !== "function")
    throw new TypeError("createRedisClient() needs a connect function (from cloudflare:sockets or an adapter)");
  const fromUrl = options.url !== undefined ? parseRedisUrl(options.url) : undefined;
  let hostname = fromUrl?.hostname ?? "127.0.0.1";
  let port = fromUrl?.port ?? 6379;
  if (options.address !== undefined) {
    ({ hostname, port } = parseSocketAddress(options.address));
  } else if (hostname.startsWith("[")) hostname = hostname.slice(1, -1);
  const protocol = options.protocol ?? 3;
  if (protocol !== 2 && protocol !== 3) throw new TypeError(`protocol must be 2 or 3, got ${String(protocol)}`);
  const db = options.db ?? fromUrl?.db;
  if (db !== undefined && (!Number.isInteger(db) || db < 0))
    throw new TypeError(`db must be a non-negative integer, got ${String(db)}`);
  for (const key of ["connectTimeoutMs", "commandTimeoutMs"] as const) {
    const value = options[key];
    if (value !== undefined && !(typeof value === "number" && value > 0))
      throw new TypeError(`${key} must be a positive number, got ${String(value)}`);
  }
  const reconnect =
    options.reconnect === undefined || options.reconnect === false
      ? undefined
      : reconnectSettings(options.reconnect, "maxOfflineCommands");
  return new RedisClient({
    ...options,
    reconnect,
    hostname: hostname.includes(":") ? `[${hostname}]` : hostname,
    port,
    tls: options.tls ?? fromUrl?.tls ?? false,
    username: options.username ?? fromUrl?.username,
    password: options.password ?? fromUrl?.password,
    db,
    protocol,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    commandTimeoutMs: options.commandTimeoutMs ?? 30_000,
  });
}

/**
 * Settles each queued command of a transaction from `EXEC`'s reply (null:
 * a `WATCH`ed key changed) and returns their results. `anyBuffers`: the
 * reply was decoded as bytes, and the commands that want text get it back.
 */
export function settleTransaction(
  commands: Readonly<RedisBatch["commands"]>,
  exec: RespValue,
  anyBuffers: boolean,
): BatchResult[] | null {
  if (exec === null) {
    const aborted = Promise.resolve(null);
    commands.forEach((command) => command.settle!(aborted));
    return null;
  }
  const replies = exec as RespValue[];
  return commands.map((command, i) => {
    const reply = anyBuffers && !command.buffers ? bytesToText(replies[i]!) : replies[i]!;
    let result: unknown = reply;
    if (!(reply instanceof ReplyError) && command.transform) {
      try {
        result = command.transform(reply);
      } catch (error) {
        result = error;
      }
    }
    command.settle!(result instanceof Error ? Promise.reject(result) : Promise.resolve(result));
    return result;
  });
}

/** A reply decoded as bytes, with its blob strings turned back into text. */
function bytesToText(value: RespValue): RespValue {
  if (value instanceof Uint8Array) return decodeUtf8(value, 0, value.length);
  if (Array.isArray(value)) return value.map(bytesToText);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [bytesToText(k), bytesToText(v)]));
  if (value instanceof Set) return new Set([...value].map(bytesToText));
  return value;
}

function closedClient(): Error {
  return new ClosedError("the Redis client is closed (its connection was lost or closed); create a new client");
}

/** The hex SHA-1 of a script, as EVALSHA takes it. */
export async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
