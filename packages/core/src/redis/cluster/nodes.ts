import { backoffDelay } from "../../backoff.js";
import { ClosedError, TimeoutError } from "../../errors.js";
import { timer, type Timer } from "../../timer.js";
import type { SocketAddress } from "../../types.js";
import { handshake } from "../client.js";
import { RedisConnection } from "../connection.js";
import type { RespValue } from "../resp/decoder.js";
import type { ClusterSettings } from "./settings.js";
import { addressKey } from "./topology.js";

/** A node's command connection, or its RESP2 subscriber connection (pub/sub on RESP2 needs its own). */
export type ConnectionKind = "command" | "subscriber";

/** One node of the cluster and its connections (at most one of each kind). */
export class ClusterNode {
  readonly key: string;
  readonly address: SocketAddress;
  id: string | undefined;
  role: "master" | "replica" = "master";
  command: RedisConnection | undefined;
  subscriber: RedisConnection | undefined;
  /** Failed connection attempts in a row: the next one waits that far up the backoff. */
  failures = 0;
  /** Lost a connection or failed an attempt, and not yet back: the offline bound applies. */
  recovering = false;
  /** When a command last went to it (a counter), to close the least recently used first. */
  lastUsed = 0;
  /** Dropped from the topology: its connections close once their replies are in. */
  retired = false;

  constructor(address: SocketAddress) {
    this.address = address;
    this.key = addressKey(address);
  }

  connection(kind: ConnectionKind): RedisConnection | undefined {
    return kind === "command" ? this.command : this.subscriber;
  }
}

export interface PoolHooks {
  /** A push frame (RESP3) or a RESP2 subscriber's pub/sub array. */
  onPush(frame: RespValue[], node: ClusterNode, connection: RedisConnection): void;
  /** A connection failed or closed. */
  onLost(node: ClusterNode, connection: RedisConnection, error: Error): void;
  /** Whether subscriptions live on this connection (it is never closed to make room). */
  pinned(connection: RedisConnection): boolean;
}

interface Waiter {
  node: ClusterNode;
  kind: ConnectionKind;
  resolve(connection: RedisConnection): void;
  reject(error: unknown): void;
  timer: Timer;
}

/**
 * The cluster's nodes and their connections, under a cap on how many are
 * open at once (a Worker may hold 6). Past the cap, a connection no command
 * is waiting on is closed to make room; while none is, commands for a node
 * without a connection wait in a bounded queue.
 */
export class NodePool {
  readonly #settings: ClusterSettings;
  readonly #hooks: PoolHooks;
  readonly #nodes = new Map<string, ClusterNode>();
  #open = 0;
  #evicting = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  // Connections closed on purpose (to make room, idle, retired): their loss is not a node in trouble.
  readonly #intended = new WeakSet<RedisConnection>();
  tick = 0;

  constructor(settings: ClusterSettings, hooks: PoolHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
  }

  /** Connections open or opening (closing ones count until they are closed). */
  get openCount(): number {
    return this.#open;
  }

  /** Commands waiting for a connection under the cap. */
  get waitingCount(): number {
    return this.#waiters.length;
  }

  /** The node at `address` (mapped through `mapAddress`), made known if it was not. */
  node(address: SocketAddress): ClusterNode {
    const mapped = this.#settings.mapAddress ? this.#settings.mapAddress(address) : address;
    const key = addressKey(mapped);
    let node = this.#nodes.get(key);
    if (node === undefined || node.retired) this.#nodes.set(key, (node = new ClusterNode(mapped)));
    return node;
  }

  /** Every known node. */
  get nodes(): IterableIterator<ClusterNode> {
    return this.#nodes.values();
  }

  /** Forgets a node; its connections close once the replies owed on them are in. */
  retire(node: ClusterNode): void {
    node.retired = true;
    if (this.#nodes.get(node.key) === node) this.#nodes.delete(node.key);
    for (const connection of [node.command, node.subscriber]) if (connection) this.closeConnection(node, connection);
  }

  /** Closes one connection on purpose, after the replies owed on it. */
  closeConnection(node: ClusterNode, connection: RedisConnection): void {
    this.#intended.add(connection);
    if (node.command === connection) node.command = undefined;
    if (node.subscriber === connection) node.subscriber = undefined;
    void connection.close();
  }

  /**
   * The node's connection of `kind`, opened if it has none: at once, or, at
   * the cap, once one is free (by `deadline`, ms since the epoch).
   */
  connection(node: ClusterNode, kind: ConnectionKind, deadline: number): RedisConnection | Promise<RedisConnection> {
    const current = node.connection(kind);
    if (current !== undefined && !current.isClosed) return current;
    if (this.#closed) return Promise.reject(new ClosedError("the Redis cluster client is closed"));
    if (this.#open < this.#settings.maxConnections) return this.#assign(node, kind);
    return this.#wait(node, kind, deadline);
  }

  /** Closes every connection after the replies owed; waiters reject. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#rejectWaiters(new ClosedError("the Redis cluster client was closed"));
    const all: Promise<void>[] = [];
    for (const node of this.#nodes.values())
      for (const c of [node.command, node.subscriber]) if (c) all.push(c.close());
    await Promise.all(all);
  }

  /** Closes every connection at once; commands in flight reject with `error`. */
  destroy(error: Error): void {
    this.#closed = true;
    this.#rejectWaiters(error);
    for (const node of this.#nodes.values()) for (const c of [node.command, node.subscriber]) c?.destroy(error);
  }

  #assign(node: ClusterNode, kind: ConnectionKind): RedisConnection {
    const connection = this.#openConnection(node, kind);
    if (kind === "command") node.command = connection;
    else node.subscriber = connection;
    return connection;
  }

  #openConnection(node: ClusterNode, kind: ConnectionKind): RedisConnection {
    const s = this.#settings;
    const subscriber = kind === "subscriber";
    const readonly = node.role === "replica" && !subscriber;
    const login = { ...s, db: 0, protocol: subscriber ? (2 as const) : s.protocol };
    const connection: RedisConnection = new RedisConnection({
      connect: s.connect,
      address: node.address,
      tls: s.tls,
      connectTimeoutMs: s.connectTimeoutMs,
      commandTimeoutMs: s.commandTimeoutMs,
      traceArguments: s.traceArguments,
      maxBulkLength: s.maxBulkLength,
      maxAggregateLength: s.maxAggregateLength,
      maxDepth: s.maxDepth,
      resp2PubSub: subscriber,
      delayMs: node.failures > 0 ? backoffDelay(s.backoff, node.failures - 1) : 0,
      onPush: (frame) => this.#hooks.onPush(frame, node, connection),
      onClosed: (error) => {
        if (connection.wasReady && !this.#intended.has(connection)) node.recovering = true;
        this.#hooks.onLost(node, connection, error);
      },
      onIdle: () => {
        if (this.#waiters.length > 0) this.#serve();
      },
      handshake: async (send) => {
        const protocol = await handshake(send, login);
        // A replica serves reads only to a connection that said READONLY.
        if (readonly) await send(["READONLY"]);
        return protocol;
      },
    });
    this.#open++;
    connection.ready.then(
      () => {
        node.failures = 0;
        node.recovering = false;
      },
      () => {
        node.failures++;
        node.recovering = true;
      },
    );
    void connection.closed.then(() => {
      this.#open--;
      if (this.#waiters.length > 0) this.#serve();
    });
    return connection;
  }

  #wait(node: ClusterNode, kind: ConnectionKind, deadline: number): Promise<RedisConnection> {
    const { maxConnections, maxQueuedCommands } = this.#settings;
    if (this.#waiters.length >= maxQueuedCommands) {
      return Promise.reject(
        new ClosedError(
          `all ${maxConnections} connections the cluster client may open (maxConnections) are busy, and ` +
            `${maxQueuedCommands} commands already wait for one (maxQueuedCommands)`,
        ),
      );
    }
    const promise = new Promise<RedisConnection>((resolve, reject) => {
      const timeoutMs = Math.max(0, deadline - Date.now());
      const waiter: Waiter = {
        node,
        kind,
        resolve,
        reject,
        timer: timer(timeoutMs, () => {
          const i = this.#waiters.indexOf(waiter);
          if (i !== -1) this.#waiters.splice(i, 1);
          reject(
            new TimeoutError(
              `no connection to ${node.key} could be opened within ${timeoutMs} ms: all ${maxConnections} ` +
                `connections the cluster client may open (maxConnections) stayed busy`,
              timeoutMs,
            ),
          );
        }),
      };
      waiter.timer.start();
      this.#waiters.push(waiter);
    });
    this.#serve();
    return promise;
  }

  /** Gives waiters connections: theirs if opened meanwhile, new ones under the cap, or room made by closing idle ones. */
  #serve(): void {
    const waiting = new Set<string>();
    for (let i = 0; i < this.#waiters.length;) {
      const waiter = this.#waiters[i]!;
      const current = waiter.node.connection(waiter.kind);
      let connection: RedisConnection | undefined;
      if (current !== undefined && !current.isClosed) connection = current;
      else if (this.#open < this.#settings.maxConnections) connection = this.#assign(waiter.node, waiter.kind);
      if (connection === undefined) {
        waiting.add(`${waiter.kind} ${waiter.node.key}`);
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      waiter.timer.cancel();
      waiter.resolve(connection);
    }
    // Close as many idle connections as there are connections wanted, least recently used first.
    while (this.#evicting < waiting.size) {
      const idle = this.#idlest();
      if (idle === undefined) return;
      this.#evicting++;
      const [node, connection] = idle;
      this.#intended.add(connection);
      if (node.command === connection) node.command = undefined;
      if (node.subscriber === connection) node.subscriber = undefined;
      connection.destroy(new ClosedError("closed to make room under the cluster client's maxConnections"));
      void connection.closed.then(() => this.#evicting--);
    }
  }

  #idlest(): [ClusterNode, RedisConnection] | undefined {
    let best: [ClusterNode, RedisConnection] | undefined;
    for (const node of this.#nodes.values()) {
      for (const connection of [node.command, node.subscriber]) {
        if (connection === undefined || connection.isClosed || !connection.wasReady) continue;
        if (connection.pendingCount > 0 || this.#hooks.pinned(connection)) continue;
        if (this.#waiters.some((w) => w.node === node && w.node.connection(w.kind) === connection)) continue;
        if (best === undefined || node.lastUsed < best[0].lastUsed) best = [node, connection];
      }
    }
    return best;
  }

  #rejectWaiters(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) {
      waiter.timer.cancel();
      waiter.reject(error);
    }
  }
}
