import { backoffDelay } from "../../backoff.js";
import { ReplyError, TimeoutError } from "../../errors.js";
import { isPermanentConnectError } from "../../retry.js";
import type { RedisConnection } from "../connection.js";
import {
  checkSubscribeArguments,
  makeSink,
  type PubSubMessage,
  type Sink,
  type RedisSubscribeOptions,
  type RedisSubscription,
} from "../pubsub.js";
import type { RespValue } from "../resp/decoder.js";
import type { ClusterNode } from "./nodes.js";
import type { ClusterRouter } from "./router.js";
import { keySlot } from "./slot.js";

interface Channel {
  name: string;
  slot: number;
  sinks: Set<Sink>;
  /** The node and connection it is subscribed on; undefined while it is being (re)placed. */
  node: ClusterNode | undefined;
  connection: RedisConnection | undefined;
  /** Settles the first time it is placed (a second subscriber to it waits for this too). */
  placed: Promise<void>;
  markPlaced(error?: unknown): void;
  /** Why the last attempt to place it failed, for a subscriber whose deadline passes. */
  lastError: unknown;
}

/**
 * Sharded pub/sub over the cluster: each shard channel is subscribed on the
 * master serving its slot (on RESP3 over the node's command connection, on
 * RESP2 over a subscriber connection of that node), and moves when the slot
 * moves (Redis 7 ends the subscription with a `sunsubscribe` notice, and the
 * topology read after it, or a `MOVED` to the next `SSUBSCRIBE`, says where
 * to), when its master fails (the connection is lost; the replica that takes
 * over is found by reading the topology again), or when a topology read
 * shows another owner. Pub/sub is at most once: messages published while a
 * subscription moves are lost; once it is in place, none are.
 */
export class ShardPubSub {
  readonly #router: ClusterRouter;
  readonly #inOtherUse: (connection: RedisConnection) => boolean;
  readonly #channels = new Map<string, Channel>();
  readonly #perConnection = new Map<RedisConnection, number>();
  readonly #tasks = new Map<number, Promise<void>>();
  readonly #dirty = new Set<number>();

  /** `inOtherUse`: whether classic subscriptions also live on a (RESP2 subscriber) connection. */
  constructor(router: ClusterRouter, inOtherUse: (connection: RedisConnection) => boolean) {
    this.#router = router;
    this.#inOtherUse = inOtherUse;
  }

  /** Whether shard subscriptions live on `connection` (it must not be closed to make room). */
  pinned(connection: RedisConnection): boolean {
    return (this.#perConnection.get(connection) ?? 0) > 0;
  }

  async subscribe(
    input: string | readonly string[],
    listener: ((message: PubSubMessage) => void) | undefined,
    options: RedisSubscribeOptions = {},
  ): Promise<RedisSubscription> {
    const { names, maxBuffered } = checkSubscribeArguments(input, listener, options);
    const { sink, iterator } = makeSink(listener, maxBuffered, () => subscription.unsubscribe());
    const channels = [...new Set(names)].map((name) => {
      let channel = this.#channels.get(name);
      if (channel === undefined) {
        this.#channels.set(name, (channel = newChannel(name)));
        this.#schedule(channel.slot);
      }
      channel.sinks.add(sink);
      return channel;
    });
    let unsubscribed: Promise<void> | undefined;
    const subscription: RedisSubscription = Object.assign(iterator, {
      names,
      unsubscribe: () => (unsubscribed ??= this.#unsubscribe(channels, sink)),
    });
    const timeoutMs = this.#router.settings.commandTimeoutMs;
    try {
      await withDeadline(Promise.all(channels.map((c) => c.placed)), timeoutMs, () => {
        const stuck = channels.find((c) => c.connection === undefined);
        const why = stuck?.lastError instanceof Error ? `: ${stuck.lastError.message}` : "";
        return new TimeoutError(
          `SSUBSCRIBE ${stuck?.name ?? ""} was not confirmed within ${timeoutMs} ms${why}`,
          timeoutMs,
        );
      });
    } catch (error) {
      await subscription.unsubscribe();
      sink.fail(error);
      throw error;
    }
    return subscription;
  }

  /** Handles a shard message or a server-sent `sunsubscribe`; false for anything else. */
  dispatch(frame: RespValue[], connection: RedisConnection): boolean {
    const kind = frame[0];
    if (kind === "smessage") {
      const channel = this.#channels.get(String(frame[1]));
      if (channel !== undefined) {
        const message: PubSubMessage = { kind: "smessage", channel: channel.name, message: String(frame[2]) };
        for (const sink of [...channel.sinks]) sink.deliver(message);
      }
      return true;
    }
    if (kind === "sunsubscribe") {
      // Our own SUNSUBSCRIBEs are confirmed inside the connection: this is Redis ending the
      // subscription because the slot moved away. Find its new owner and subscribe there.
      const channel = this.#channels.get(String(frame[1]));
      if (channel !== undefined && channel.connection === connection) {
        this.#detach(channel);
        this.#router.scheduleRefresh();
        this.#schedule(channel.slot);
      }
      return true;
    }
    return false;
  }

  /** A connection was lost: its subscriptions move (to the same node once it is back, or to whoever took over). */
  lost(connection: RedisConnection): void {
    if (!this.#perConnection.has(connection)) return;
    for (const channel of this.#channels.values()) {
      if (channel.connection !== connection) continue;
      this.#detach(channel);
      this.#schedule(channel.slot);
    }
    this.#perConnection.delete(connection);
  }

  /** The topology was read again: a subscription whose slot another master now serves moves there. */
  topologyChanged(): void {
    for (const channel of this.#channels.values()) {
      if (channel.node === undefined) continue;
      const owner = this.#router.route(channel.slot, false);
      if (owner === undefined || owner === channel.node) continue;
      const old = channel.connection;
      this.#detach(channel);
      if (old !== undefined && !old.isClosed) this.#release(old, [channel]);
      this.#schedule(channel.slot);
    }
  }

  /** Ends every subscription (`undefined`: cleanly, as on close). */
  failAll(error: unknown): void {
    const sinks = new Set<Sink>();
    for (const channel of this.#channels.values()) {
      for (const sink of channel.sinks) sinks.add(sink);
      channel.markPlaced(error ?? new Error("closed"));
    }
    this.#channels.clear();
    this.#perConnection.clear();
    for (const sink of sinks) sink.fail(error);
  }

  #detach(channel: Channel): void {
    const connection = channel.connection;
    channel.node = undefined;
    channel.connection = undefined;
    if (connection === undefined) return;
    const left = (this.#perConnection.get(connection) ?? 1) - 1;
    if (left > 0) this.#perConnection.set(connection, left);
    else this.#perConnection.delete(connection);
  }

  /** Tells `connection` to stop delivering `channels` (one SUNSUBSCRIBE per slot, as Redis requires). */
  #release(connection: RedisConnection, channels: Channel[]): void {
    const bySlot = new Map<number, string[]>();
    for (const c of channels) bySlot.set(c.slot, [...(bySlot.get(c.slot) ?? []), c.name]);
    for (const names of bySlot.values()) {
      connection.sendSubscriptionWith(["SUNSUBSCRIBE", ...names], names.length, { timeoutMs: 5000 }).catch(() => {}); // a node that moved the slot away, or is gone, has already stopped
    }
  }

  async #unsubscribe(channels: Channel[], sink: Sink): Promise<void> {
    sink.fail(undefined); // ends the iterator cleanly
    const emptied: Channel[] = [];
    for (const channel of channels) {
      channel.sinks.delete(sink);
      if (channel.sinks.size > 0 || this.#channels.get(channel.name) !== channel) continue;
      this.#channels.delete(channel.name);
      emptied.push(channel);
    }
    const byConnection = new Map<RedisConnection, Channel[]>();
    for (const channel of emptied) {
      const connection = channel.connection;
      this.#detach(channel);
      if (connection === undefined || connection.isClosed) continue;
      byConnection.set(connection, [...(byConnection.get(connection) ?? []), channel]);
    }
    for (const [connection, list] of byConnection) {
      this.#release(connection, list);
      // A RESP2 subscriber connection nothing listens on any more is closed: it frees a connection.
      if (!this.#perConnection.has(connection) && this.#router.settings.protocol === 2)
        this.#idleSubscriber(connection);
    }
  }

  #idleSubscriber(connection: RedisConnection): void {
    for (const node of this.#router.pool.nodes) {
      if (node.subscriber === connection && !this.#inOtherUse(connection))
        this.#router.pool.closeConnection(node, connection);
    }
  }

  /** Places the channels of `slot` that have no subscription, in the background, retrying until it is done. */
  #schedule(slot: number): void {
    if (this.#tasks.has(slot)) {
      this.#dirty.add(slot);
      return;
    }
    const task = this.#place(slot).finally(() => {
      this.#tasks.delete(slot);
      if (this.#dirty.delete(slot)) this.#schedule(slot);
    });
    this.#tasks.set(slot, task);
  }

  async #place(slot: number): Promise<void> {
    const router = this.#router;
    let waits = 0;
    let redirects = 0;
    let target: ClusterNode | undefined;
    for (;;) {
      const wanted = [...this.#channels.values()].filter((c) => c.slot === slot && c.connection === undefined);
      if (wanted.length === 0 || router.closed) return;
      let node: ClusterNode | undefined;
      let connection: RedisConnection | undefined;
      let error: unknown;
      const epoch = router.epoch;
      try {
        await router.whenReady();
        node = target ?? router.route(slot, false);
        target = undefined;
        if (node === undefined) throw new ReplyError(`CLUSTERDOWN no node is known to serve slot ${slot} yet`);
        connection = await this.#connection(node);
        const names = wanted.map((c) => c.name);
        await connection.sendSubscriptionWith(["SSUBSCRIBE", ...names], names.length, {
          timeoutMs: router.settings.commandTimeoutMs,
        });
        if (connection.isClosed) throw new Error("the connection closed");
        for (const channel of wanted) {
          if (this.#channels.get(channel.name) !== channel) continue; // unsubscribed meanwhile: released below
          channel.node = node;
          channel.connection = connection;
          channel.lastError = undefined;
          this.#perConnection.set(connection, (this.#perConnection.get(connection) ?? 0) + 1);
          channel.markPlaced();
        }
        const gone = wanted.filter((c) => this.#channels.get(c.name) !== c);
        if (gone.length > 0) this.#release(connection, gone);
        waits = 0;
        continue; // channels added to the slot meanwhile are placed next
      } catch (failure) {
        error = failure;
      }
      for (const channel of wanted) channel.lastError = error;
      if (router.closed) return;
      const step =
        error instanceof ReplyError
          ? router.next(error, node, connection)
          : isPermanentConnectError(error)
            ? undefined
            : ({ kind: "wait", refresh: true } as const);
      if (step === undefined) {
        // Refused for good (no permission, a server without sharded pub/sub): those subscriptions end.
        for (const channel of wanted) {
          if (this.#channels.get(channel.name) !== channel) continue;
          this.#channels.delete(channel.name);
          channel.markPlaced(error);
          for (const sink of channel.sinks) sink.fail(error);
        }
        continue;
      }
      if (step.kind === "redirect" && !step.asking && ++redirects <= router.settings.maxRedirections) {
        target = step.node;
        continue;
      }
      redirects = 0;
      // Waits without a deadline: a subscription lives until it is unsubscribed or the client closes.
      if (epoch !== router.epoch) continue; // the topology changed meanwhile: try the new one now
      const watch = step.kind === "wait" && step.refresh;
      await router
        .pause(backoffDelay(router.settings.backoff, waits++), undefined, { bounded: false, watch })
        .catch(() => {});
      if (step.kind === "wait" && step.refresh) await router.freshTopology();
    }
  }

  /** The connection subscriptions take on `node`: its command connection on RESP3, a subscriber one on RESP2. */
  async #connection(node: ClusterNode): Promise<RedisConnection> {
    const router = this.#router;
    const deadline = Date.now() + router.settings.connectTimeoutMs + router.settings.commandTimeoutMs;
    if (router.settings.protocol === 3) {
      const command = await router.pool.connection(node, "command", deadline);
      await command.ready;
      if (command.protocol === 3) return command;
    }
    const subscriber = await router.pool.connection(node, "subscriber", deadline);
    await subscriber.ready;
    return subscriber;
  }
}

function newChannel(name: string): Channel {
  let markPlaced!: (error?: unknown) => void;
  const placed = new Promise<void>((resolve, reject) => {
    markPlaced = (error) => (error === undefined ? resolve() : reject(error));
  });
  placed.catch(() => {});
  return {
    name,
    slot: keySlot(name),
    sinks: new Set(),
    node: undefined,
    connection: undefined,
    placed,
    markPlaced,
    lastError: undefined,
  };
}

/** `promise`, or `onTimeout()`'s error after `ms`; the timer is cleared either way. */
async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let handle: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    handle = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(handle);
  }
}
