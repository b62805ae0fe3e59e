import { asyncDispose } from "../../async-dispose.js";
import { backoffDelay } from "../../backoff.js";
import { ClosedError, ReplyError } from "../../errors.js";
import { RedisBatch, sha1, type BatchResult } from "../client.js";
import { RedisCommands, type ScanOptions } from "../commands.js";
import type { CommandOptions, RedisConnection, Transform } from "../connection.js";
import { PubSub, type PubSubMessage, type RedisSubscribeOptions, type RedisSubscription } from "../pubsub.js";
import type { RespValue } from "../resp/decoder.js";
import type { RedisArgument } from "../resp/encoder.js";
import { runMulti, runPipeline } from "./batch.js";
import { ClusterRouter, closedError } from "./router.js";
import { clusterSettings, type ClusterSettings, type RedisClusterOptions } from "./settings.js";
import { ShardPubSub } from "./shard-pubsub.js";

/** A master of the cluster and its replicas, as last read. */
export interface ClusterShardView {
  /** `host:port` of the master. */
  master: string;
  /** `host:port` of each healthy replica. */
  replicas: string[];
}

/** What the views made by `with()` share: the router, the subscriptions, the script cache. */
class ClusterCore {
  readonly router: ClusterRouter;
  readonly shard: ShardPubSub;
  readonly classic: PubSub;
  readonly scripts = new Map<string, string>();
  #classicConnection: RedisConnection | undefined;
  #recovering = false;

  constructor(settings: ClusterSettings) {
    this.router = new ClusterRouter(settings, {
      onPush: (frame, _node, connection) => {
        if (!this.shard.dispatch(frame, connection)) this.classic.dispatch(frame);
      },
      onLost: (_node, connection) => {
        this.router.scheduleRefresh();
        this.shard.lost(connection);
        if (connection === this.#classicConnection) this.#recoverClassic();
      },
      onTopology: () => {
        this.shard.topologyChanged();
      },
      pinned: (connection) => this.shard.pinned(connection) || this.#classicIn(connection),
    });
    this.shard = new ShardPubSub(this.router, (connection) => this.#classicIn(connection));
    this.classic = new PubSub(() => this.#classicConnectionNow());
  }

  #classicIn(connection: RedisConnection): boolean {
    return connection === this.#classicConnection && this.classic.active;
  }

  /**
   * Channel and pattern subscriptions: PUBLISH reaches every node of a
   * cluster, so they live on one master (its command connection on RESP3,
   * a subscriber connection on RESP2), and move to another if it is lost.
   */
  async #classicConnectionNow(): Promise<RedisConnection> {
    const current = this.#classicConnection;
    if (current !== undefined && !current.isClosed) return current;
    const router = this.router;
    await router.whenReady();
    const node = router.anyMaster();
    if (node === undefined) throw new ReplyError("CLUSTERDOWN no master is known yet");
    const deadline = Date.now() + router.settings.connectTimeoutMs + router.settings.commandTimeoutMs;
    let connection = await router.pool.connection(node, "command", deadline);
    await connection.ready;
    if (connection.protocol !== 3) {
      connection = await router.pool.connection(node, "subscriber", deadline);
      await connection.ready;
    }
    this.#classicConnection = connection;
    return connection;
  }

  #recoverClassic(): void {
    this.#classicConnection = undefined;
    if (this.#recovering || !this.classic.active || this.router.closed) return;
    this.#recovering = true;
    void (async () => {
      for (let waits = 0; this.classic.active && !this.router.closed; waits++) {
        try {
          await this.router.pause(backoffDelay(this.router.settings.backoff, waits), undefined, {
            bounded: false,
            watch: true,
          });
          this.classic.resubscribe(await this.#classicConnectionNow());
          return;
        } catch {
          // not reachable yet: try again after the next backoff
        }
      }
    })().finally(() => (this.#recovering = false));
  }
}

/**
 * A Redis Cluster client for Workers and Node, with `RedisClient`'s
 * commands. Each command goes to the master serving its key's slot (or a
 * replica, with `readFrom: "replica"`); the client follows the cluster
 * through slot moves (`MOVED`, `ASK`) and failovers, always reconnecting.
 * Commands sent in the same tick to one node share a write.
 */
export class RedisCluster extends RedisCommands {
  readonly #core: ClusterCore;
  readonly #options: CommandOptions | undefined;

  /** @internal use {@link createRedisCluster} */
  constructor(core: ClusterCore, options?: CommandOptions) {
    super();
    this.#core = core;
    this.#options = options;
  }

  /** The same client with per-command options (a timeout, an `AbortSignal`) for the commands sent through it. */
  with(options: CommandOptions): RedisCluster {
    return new RedisCluster(this.#core, { ...this.#options, ...options });
  }

  /** Reads the topology and connects to every master (and replica, when reading from replicas) now. */
  async connect(): Promise<void> {
    const router = this.#core.router;
    await router.whenReady();
    const deadline = Date.now() + router.settings.connectTimeoutMs;
    const nodes = router.masters.flatMap((m) =>
      router.settings.readFrom === "replica" ? [m, ...router.replicasOf(m)] : [m],
    );
    await Promise.all(
      nodes.slice(0, router.settings.maxConnections).map(async (node) => {
        await (
          await router.pool.connection(node, "command", deadline)
        ).ready;
      }),
    );
  }

  protected call<T>(args: RedisArgument[], transform?: Transform<T>, buffers = false): Promise<T> {
    return this.#core.router.send(args, transform, buffers, this.#options);
  }

  /**
   * Sends the commands `build` queues, split per node (one write each), and
   * resolves with each one's result in call order (a failed command's entry
   * is its `ReplyError`). A command redirected on the way is sent again
   * alone. Multi-key commands must keep their keys in one slot.
   */
  async pipeline(build: (batch: RedisBatch) => void): Promise<BatchResult[]> {
    const batch = new RedisBatch();
    build(batch);
    if (this.#core.router.closed) throw closedError();
    return runPipeline(this.#core.router, batch.commands, this.#options);
  }

  /**
   * `MULTI`, the commands `build` queues, `EXEC`, on the master of their
   * slot: every key must hash to one slot (use a hash tag, `{user1}.a`),
   * else it is refused before sending (`CROSSSLOT`, naming the slots).
   * Resolves with each command's result; a command Redis refuses to queue
   * aborts it (`EXECABORT`).
   */
  async multi(build: (tx: RedisBatch) => void): Promise<BatchResult[] | null> {
    const batch = new RedisBatch();
    build(batch);
    if (this.#core.router.closed) throw closedError();
    return runMulti(this.#core.router, batch.commands, this.#options);
  }

  /** Runs a Lua script by its SHA1 (`EVALSHA`) on the node of its keys, sending the source (`EVAL`) where it is missing. */
  async runScript(
    script: string,
    keys: readonly RedisArgument[] = [],
    args: readonly RedisArgument[] = [],
  ): Promise<RespValue> {
    let sha = this.#core.scripts.get(script);
    if (sha === undefined) {
      sha = await sha1(script);
      this.#core.scripts.set(script, sha);
    }
    try {
      return await this.evalsha(sha, keys, args);
    } catch (error) {
      if (error instanceof ReplyError && error.prefix === "NOSCRIPT") return this.eval(script, keys, args);
      throw error;
    }
  }

  /** Listens on channels (`SUBSCRIBE`); a cluster delivers them from any node, so one master carries them. */
  subscribe(
    channels: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    if (this.#core.router.closed) return Promise.reject(closedError());
    return this.#core.classic.subscribe("channel", channels, listener, options);
  }

  /** Listens on glob patterns (`PSUBSCRIBE`); messages carry the `pattern` that matched. */
  psubscribe(
    patterns: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    if (this.#core.router.closed) return Promise.reject(closedError());
    return this.#core.classic.subscribe("pattern", patterns, listener, options);
  }

  /**
   * Listens on shard channels (`SSUBSCRIBE`, Redis 7), each on the master of
   * its slot; a subscription follows its slot when it moves and when the
   * master fails over. Messages published during such a move are lost (pub/sub
   * is at most once); none after the subscription is in place again.
   */
  ssubscribe(
    channels: string | readonly string[],
    listener?: (message: PubSubMessage) => void,
    options?: RedisSubscribeOptions,
  ): Promise<RedisSubscription> {
    if (this.#core.router.closed) return Promise.reject(closedError());
    return this.#core.shard.subscribe(channels, listener, options);
  }

  /** Every key matching the options, from every master in turn (`SCAN` with each one's cursor). */
  override async *scan(options: ScanOptions = {}): AsyncIterableIterator<string> {
    const router = this.#core.router;
    await router.whenReady();
    const tail: RedisArgument[] = [];
    if (options.match !== undefined) tail.push("MATCH", options.match);
    if (options.count !== undefined) tail.push("COUNT", options.count);
    if (options.type !== undefined) tail.push("TYPE", options.type);
    for (const master of [...router.masters]) {
      let cursor = "0";
      do {
        const page = (await router.sendToNode<RespValue>(
          master,
          ["SCAN", cursor, ...tail],
          undefined,
          this.#options,
        )) as [RespValue, RespValue[]];
        cursor = String(page[0]);
        yield* page[1] as string[];
      } while (cursor !== "0");
    }
  }

  /** Keys in the whole cluster: the sum of every master's `DBSIZE`. */
  override async dbsize(): Promise<number> {
    const router = this.#core.router;
    await router.whenReady();
    const sizes = await Promise.all(
      router.masters.map((m) => router.sendToNode<RespValue>(m, ["DBSIZE"], undefined, this.#options)),
    );
    return sizes.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  /** The masters serving slots and their replicas, as last read (empty before the first command or `connect()`). */
  shards(): ClusterShardView[] {
    const router = this.#core.router;
    return router.masters.map((m) => ({ master: m.key, replicas: router.replicasOf(m).map((r) => r.key) }));
  }

  /** Connections open or opening now, subscriber connections included (closing ones count until closed). */
  get connectionCount(): number {
    return this.#core.router.pool.openCount;
  }

  /** Replies still owed, then `QUIT`, on every connection; subscriptions end. Idempotent. */
  async close(): Promise<void> {
    const core = this.#core;
    core.shard.failAll(undefined);
    core.classic.failAll(undefined);
    await core.router.close();
  }

  /** Closes at once; commands in flight reject with `ECLOSED`, subscriptions fail with it. */
  destroy(): void {
    const error = new ClosedError("the Redis cluster client was destroyed");
    this.#core.shard.failAll(error);
    this.#core.classic.failAll(error);
    this.#core.router.destroy(error);
  }

  async [asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Creates a Redis Cluster client. Nothing connects until the first command
 * (or `connect()`); then the topology is read from the first seed that
 * answers (`CLUSTER SHARDS`, or `CLUSTER SLOTS` before Redis 7).
 */
export function createRedisCluster(options: RedisClusterOptions): RedisCluster {
  return new RedisCluster(new ClusterCore(clusterSettings(options)));
}
