import { TooLargeError } from "../errors.js";
import type { RedisConnection } from "./connection.js";
import type { RespValue } from "./resp/decoder.js";

/** A message from a channel (`SUBSCRIBE`), a pattern (`PSUBSCRIBE`) or a shard channel (`SSUBSCRIBE`). */
export interface PubSubMessage {
  kind: "message" | "pmessage" | "smessage";
  channel: string;
  /** The pattern that matched, for `pmessage`. */
  pattern?: string;
  message: string;
}

/** Options of `subscribe`, `psubscribe` and `ssubscribe`. */
export interface RedisSubscribeOptions {
  /**
   * Messages the async iterator may hold for a reader that has fallen
   * behind. Past it the iterator fails with `ETOOLARGE` and the
   * subscription ends: messages are never dropped silently.
   * @default 10000
   */
  maxBuffered?: number;
}

/** One subscription: an async iterator of messages (unless a listener takes them), ended by `unsubscribe()`. */
export interface RedisSubscription extends AsyncIterableIterator<PubSubMessage> {
  /** The channels or patterns this subscription listens to. */
  readonly names: readonly string[];
  /** Stops listening; the server is told once no other subscription needs the names. Idempotent. */
  unsubscribe(): Promise<void>;
}

type Family = "channel" | "pattern" | "shard";
const COMMANDS: Record<Family, [subscribe: string, unsubscribe: string]> = {
  channel: ["SUBSCRIBE", "UNSUBSCRIBE"],
  pattern: ["PSUBSCRIBE", "PUNSUBSCRIBE"],
  shard: ["SSUBSCRIBE", "SUNSUBSCRIBE"],
};
const FAMILY_OF_KIND: Record<string, Family> = { message: "channel", pmessage: "pattern", smessage: "shard" };

/** Where one subscription's messages go (its listener or iterator); `fail(undefined)` ends it cleanly. */
export interface Sink {
  deliver(message: PubSubMessage): void;
  fail(error: unknown): void;
}

/**
 * The client's subscriptions. On RESP3 they share the command connection
 * (messages arrive as push frames); on RESP2 they get a connection of their
 * own, since a RESP2 connection in subscribe mode can run nothing else.
 */
export class PubSub {
  readonly #connection: () => Promise<RedisConnection>;
  readonly #sinks: Record<Family, Map<string, Set<Sink>>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map(),
  };

  constructor(connection: () => Promise<RedisConnection>) {
    this.#connection = connection;
  }

  /** Whether any subscription is live. */
  get active(): boolean {
    return this.#sinks.channel.size + this.#sinks.pattern.size + this.#sinks.shard.size > 0;
  }

  async subscribe(
    family: Family,
    input: string | readonly string[],
    listener: ((message: PubSubMessage) => void) | undefined,
    options: RedisSubscribeOptions = {},
  ): Promise<RedisSubscription> {
    const { names, maxBuffered } = checkSubscribeArguments(input, listener, options);

    const { sink, iterator } = makeSink(listener, maxBuffered, () => subscription.unsubscribe());
    const fresh = [...new Set(names)].filter((name) => !this.#sinks[family].has(name));
    for (const name of names) {
      let set = this.#sinks[family].get(name);
      if (!set) this.#sinks[family].set(name, (set = new Set()));
      set.add(sink);
    }
    let unsubscribed: Promise<void> | undefined;
    const subscription: RedisSubscription = Object.assign(iterator, {
      names,
      unsubscribe: () => (unsubscribed ??= this.#unsubscribe(family, names, sink)),
    });
    try {
      if (fresh.length > 0) {
        const connection = await this.#connection();
        await connection.sendSubscription([COMMANDS[family][0], ...fresh], fresh.length);
      }
    } catch (error) {
      this.#remove(family, names, sink);
      sink.fail(error);
      throw error;
    }
    return subscription;
  }

  /** Subscribes `connection` (a new one, after a reconnection) to every live name. */
  resubscribe(connection: RedisConnection): void {
    for (const family of Object.keys(COMMANDS) as Family[]) {
      const names = [...this.#sinks[family].keys()];
      if (names.length > 0) connection.sendSubscription([COMMANDS[family][0], ...names], names.length).catch(() => {});
    }
  }

  /** Routes a push frame; false when it is not a pub/sub message. */
  dispatch(frame: RespValue[]): boolean {
    const message = toMessage(frame);
    if (message === undefined) return false;
    const family = FAMILY_OF_KIND[message.kind]!;
    const kind = message.kind;
    const sinks = this.#sinks[family].get(kind === "pmessage" ? message.pattern! : message.channel);
    if (sinks) for (const sink of [...sinks]) sink.deliver(message);
    return true;
  }

  /** Ends every subscription with `error` (the connection is gone and will not come back). */
  failAll(error: unknown): void {
    const all = new Set<Sink>();
    for (const family of Object.values(this.#sinks)) {
      for (const set of family.values()) for (const sink of set) all.add(sink);
      family.clear();
    }
    for (const sink of all) sink.fail(error);
  }

  async #unsubscribe(family: Family, names: readonly string[], sink: Sink): Promise<void> {
    const emptied = this.#remove(family, names, sink);
    sink.fail(undefined); // ends the iterator cleanly
    if (emptied.length === 0) return;
    const connection = await this.#connection().catch(() => undefined);
    if (connection === undefined || connection.isClosed) return; // nothing left to tell
    await connection.sendSubscription([COMMANDS[family][1], ...emptied], emptied.length).catch(() => {});
  }

  /** Removes the sink; returns the names no subscriber is left on. */
  #remove(family: Family, names: readonly string[], sink: Sink): string[] {
    const emptied: string[] = [];
    for (const name of new Set(names)) {
      const set = this.#sinks[family].get(name);
      if (!set) continue;
      set.delete(sink);
      if (set.size === 0) {
        this.#sinks[family].delete(name);
        emptied.push(name);
      }
    }
    return emptied;
  }
}

/** A push frame as a message, or undefined when it is not one (a confirmation, an invalidation). */
export function toMessage(frame: RespValue[]): PubSubMessage | undefined {
  const kind = frame[0];
  if (typeof kind !== "string" || FAMILY_OF_KIND[kind] === undefined) return undefined;
  return kind === "pmessage"
    ? { kind, pattern: String(frame[1]), channel: String(frame[2]), message: String(frame[3]) }
    : { kind: kind as "message" | "smessage", channel: String(frame[1]), message: String(frame[2]) };
}

/** Checks the arguments every subscribe method takes; returns the names as a list. */
export function checkSubscribeArguments(
  input: string | readonly string[],
  listener: unknown,
  options: RedisSubscribeOptions,
): { names: string[]; maxBuffered: number } {
  const names = typeof input === "string" ? [input] : [...input];
  if (names.length === 0 || names.some((n) => typeof n !== "string" || n.length === 0)) {
    throw new TypeError("subscribe needs one or more non-empty channel names or patterns");
  }
  if (listener !== undefined && typeof listener !== "function") throw new TypeError("the listener must be a function");
  const maxBuffered = options.maxBuffered ?? 10_000;
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1)
    throw new TypeError(`maxBuffered must be a positive integer, got ${String(maxBuffered)}`);
  return { names, maxBuffered };
}

/** A subscription's sink and the async iterator it feeds (unless a listener takes the messages). */
export function makeSink(
  listener: ((message: PubSubMessage) => void) | undefined,
  maxBuffered: number,
  stop: () => Promise<void>,
): { sink: Sink; iterator: AsyncIterableIterator<PubSubMessage> } {
  const buffered: PubSubMessage[] = [];
  const waiting: Array<{ resolve(result: IteratorResult<PubSubMessage>): void; reject(error: unknown): void }> = [];
  let ended = false;
  let failure: unknown;

  const end = (error: unknown) => {
    if (ended) return;
    ended = true;
    failure = error;
    for (const waiter of waiting.splice(0)) {
      if (error === undefined) waiter.resolve({ done: true, value: undefined });
      else waiter.reject(error);
    }
  };

  const sink: Sink = {
    deliver(message) {
      if (ended) return;
      if (listener) {
        // A listener's bug is its own: reported as an uncaught error, it never breaks the connection.
        try {
          listener(message);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
        return;
      }
      const waiter = waiting.shift();
      if (waiter) {
        waiter.resolve({ done: false, value: message });
        return;
      }
      if (buffered.length >= maxBuffered) {
        end(
          new TooLargeError(
            `the subscriber fell more than ${maxBuffered} messages behind; the subscription ended`,
            maxBuffered,
          ),
        );
        void stop();
        return;
      }
      buffered.push(message);
    },
    fail: end,
  };

  const iterator: AsyncIterableIterator<PubSubMessage> = {
    next() {
      if (buffered.length > 0) return Promise.resolve({ done: false, value: buffered.shift()! });
      if (ended)
        return failure === undefined ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(failure);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async return() {
      await stop();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return { sink, iterator };
}
