import { backoffDelay } from "../../backoff.js";
import { AllAttemptsFailedError, ClosedError, ProtocolError, ReplyError, type AttemptFailure } from "../../errors.js";
import { isPermanentConnectError } from "../../retry.js";
import { onAbort, sleep } from "../../timer.js";
import type { CommandOptions, RedisConnection, Transform } from "../connection.js";
import type { RespValue } from "../resp/decoder.js";
import type { RedisArgument } from "../resp/encoder.js";
import {
  builtinSpec,
  commandName,
  KEYLESS,
  refusedCommand,
  slotOf,
  slotOfKeys,
  specFromCommandInfo,
  type CommandSpec,
} from "./keys.js";
import { NodePool, type ClusterNode, type PoolHooks } from "./nodes.js";
import type { ClusterSettings } from "./settings.js";
import { SLOT_COUNT } from "./slot.js";
import { parseShards, parseSlots, type ShardInfo } from "./topology.js";

/** One command as the router sends it, and what it needs to send it again. */
export interface Routed<T = unknown> {
  slot: number;
  readonly: boolean;
  args: RedisArgument[];
  transform: Transform<T> | undefined;
  buffers: boolean;
  options: CommandOptions | undefined;
  /** When it was first sent (ms since the epoch): retries stay inside its deadline. */
  start: number;
}

/** What to do after a failed attempt: go elsewhere, wait and try again, or nothing (the error stands). */
export type Step =
  | { kind: "redirect"; node: ClusterNode; asking: boolean }
  /** `refresh`: read the topology before trying again (a node failed, or the cluster said it is down). */
  | { kind: "wait"; refresh: boolean }
  | undefined;

export interface RouterHooks extends PoolHooks {
  /** The topology was read again (slots may have moved, masters changed). */
  onTopology(): void;
}

export interface PauseOptions {
  /** Count against maxOfflineCommands (commands do; subscriptions, which wait forever, do not). @default true */
  bounded?: boolean;
  /** Read the topology every 250 ms while waiting, and wake when it changed. @default false */
  watch?: boolean;
}

const WAIT: Step = { kind: "wait", refresh: false };
const WAIT_AND_REFRESH: Step = { kind: "wait", refresh: true };
const WOKEN = Symbol("woken by a topology change");
const WATCH_MS = 250;
// Refreshes asked for by redirections and lost connections come at most this often.
const MIN_REFRESH_GAP_MS = 100;
const MAX_LEARNED = 1000;
// Discovery errors every node would answer alike.
const FINAL = new Set(["WRONGPASS", "NOAUTH", "NOPERM"]);

/**
 * Routes each command to the node serving its slot, and follows the cluster
 * as it changes: `MOVED` updates the slot at once and has the topology read
 * again, `ASK` sends `ASKING` and the command to the importing node,
 * `TRYAGAIN`, `CLUSTERDOWN` and a node not answering yet are retried with
 * backoff inside the command's deadline.
 */
export class ClusterRouter {
  readonly settings: ClusterSettings;
  readonly pool: NodePool;
  readonly #hooks: RouterHooks;
  #slots: Array<ClusterNode | undefined> = new Array<ClusterNode | undefined>(SLOT_COUNT).fill(undefined);
  #masters: ClusterNode[] = [];
  #replicas = new Map<ClusterNode, ClusterNode[]>();
  #discovered = false;
  #refreshing: Promise<void> | undefined;
  #again = false;
  #lastRefresh = 0;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #periodic: ReturnType<typeof setTimeout> | undefined;
  #shardsUnsupported = false;
  readonly #learned = new Map<string, Promise<CommandSpec>>();
  #closed = false;
  readonly #stop = new AbortController();
  #roundRobin = 0;
  #waiting = 0;
  readonly #sleepers = new Set<() => void>();
  #epoch = 0;
  #watching = false;

  constructor(settings: ClusterSettings, hooks: RouterHooks) {
    this.settings = settings;
    this.#hooks = hooks;
    this.pool = new NodePool(settings, hooks);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Counts the topology reads that changed who serves a slot. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The masters serving slots, as last read. */
  get masters(): readonly ClusterNode[] {
    return this.#masters;
  }

  /** The replicas of a master, as last read. */
  replicasOf(master: ClusterNode): readonly ClusterNode[] {
    return this.#replicas.get(master) ?? [];
  }

  /** Resolves once the topology is known (reading it now if it is not). */
  whenReady(): Promise<void> {
    if (this.#discovered) return Promise.resolve();
    // Joins a read in progress without asking for another after it (as refresh() would).
    return this.#refreshing ?? this.refresh();
  }

  /** Reads the topology now (joining a read in progress, and reading once more after it if asked meanwhile). */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    const run = this.#discover().finally(() => {
      this.#refreshing = undefined;
      this.#lastRefresh = Date.now();
      if (this.#again) {
        this.#again = false;
        this.scheduleRefresh();
      }
    });
    this.#refreshing = run;
    run.catch(() => {}); // failures reach whoever waits on it; a background refresh is retried later
    return run;
  }

  /**
   * A topology at most 100 ms old: joins a read in progress, or reads it now
   * (for a command about to be retried after its node failed or the cluster
   * said CLUSTERDOWN: a replica may have taken over meanwhile).
   */
  async freshTopology(): Promise<void> {
    if (this.#refreshing) return this.#refreshing.catch(() => {});
    if (Date.now() - this.#lastRefresh < MIN_REFRESH_GAP_MS) return;
    await this.refresh().catch(() => {});
  }

  /** Reads the topology soon (at most every 100 ms however often it is asked for). */
  scheduleRefresh(): void {
    if (this.#closed || this.#soon !== undefined) return;
    if (this.#refreshing) {
      this.#again = true;
      return;
    }
    const delay = Math.max(0, this.#lastRefresh + MIN_REFRESH_GAP_MS - Date.now());
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.refresh().catch(() => {});
    }, delay);
  }

  /** The node to send a command for `slot` to: its master, or a replica for a read when reading from replicas. */
  route(slot: number, readonly: boolean): ClusterNode | undefined {
    if (slot === KEYLESS) return this.anyMaster();
    const master = this.#slots[slot];
    if (readonly && master !== undefined && this.settings.readFrom === "replica") {
      const replicas = this.#replicas.get(master);
      if (replicas !== undefined && replicas.length > 0) return replicas[this.#roundRobin++ % replicas.length];
    }
    return master;
  }

  /** A master for a command without keys: one already connected if there is one. */
  anyMaster(): ClusterNode | undefined {
    for (const master of this.#masters) if (master.command?.wasReady && !master.command.isClosed) return master;
    return this.#masters[0];
  }

  /** The spec of a command: the `commandKeys` option, the built-in table, or COMMAND INFO (a promise). */
  specOf(args: readonly RedisArgument[]): CommandSpec | Promise<CommandSpec> {
    const override =
      this.settings.commandKeys.size > 0 ? this.settings.commandKeys.get(commandName(args[0])) : undefined;
    const spec = override ?? builtinSpec(args);
    if (spec !== undefined) return spec;
    const name = commandName(args[0]);
    const refused = refusedCommand(name);
    if (refused !== undefined)
      return Promise.reject(new TypeError(`${name} cannot be sent through a Redis Cluster client: ${refused}`));
    let learned = this.#learned.get(name);
    if (learned === undefined) {
      if (this.#learned.size >= MAX_LEARNED) this.#learned.clear();
      learned = this.#commandInfo(name);
      this.#learned.set(name, learned);
      learned.catch(() => this.#learned.delete(name));
    }
    return learned;
  }

  /** The slot of a command by its spec (asking the server for Redis 6's movable keys). */
  slotOf(spec: CommandSpec, args: readonly RedisArgument[]): number | Promise<number> {
    if (!spec.askServer) return slotOf(spec, args);
    return this.send<RespValue>(["COMMAND", "GETKEYS", ...args], undefined, false, undefined).then(
      (keys) => slotOfKeys(Array.isArray(keys) ? (keys as RedisArgument[]) : [], commandName(args[0])),
      (error: unknown) => {
        if (error instanceof ReplyError && /no key|invalid arguments/i.test(error.message)) return KEYLESS;
        throw error;
      },
    );
  }

  /** Sends one command to the node serving its keys and follows the cluster until it has a reply or its deadline passes. */
  send<T>(
    args: RedisArgument[],
    transform: Transform<T> | undefined,
    buffers: boolean,
    options: CommandOptions | undefined,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const spec = this.specOf(args);
    if (spec instanceof Promise || spec.askServer) {
      return (async () => {
        const known = await spec;
        const slot = await this.slotOf(known, args);
        return this.dispatch({ slot, readonly: known.readonly, args, transform, buffers, options, start: Date.now() });
      })();
    }
    let slot: number;
    try {
      slot = slotOf(spec, args);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.dispatch({ slot, readonly: spec.readonly, args, transform, buffers, options, start: Date.now() });
  }

  /** Sends a routed command: straight on the node's open connection when it has one, else through {@link retry}. */
  dispatch<T>(command: Routed<T>): Promise<T> {
    if (!this.#discovered) return this.whenReady().then(() => this.dispatch(command));
    const node = this.route(command.slot, command.readonly);
    const connection = node?.command;
    if (node === undefined || connection === undefined || connection.isClosed || node.recovering)
      return this.retry(command, undefined, undefined, undefined);
    node.lastUsed = ++this.pool.tick;
    return connection
      .send(command.args, command.transform, command.buffers, command.options)
      .catch((error: unknown) => this.retry(command, error, node, connection));
  }

  /**
   * Sends `command` until it has a reply: after `error` (from `connection`
   * to `node`), follows a redirection, or waits and tries again; gives up
   * with the error when it cannot be retried or the deadline passes.
   */
  async retry<T>(
    command: Routed<T>,
    error: unknown,
    node: ClusterNode | undefined,
    connection: RedisConnection | undefined,
  ): Promise<T> {
    const timeoutMs = command.options?.timeoutMs ?? this.settings.commandTimeoutMs;
    const deadline = command.start + timeoutMs;
    let redirects = 0;
    let waits = 0;
    let target: ClusterNode | undefined;
    let asking = false;
    let toMaster = false;
    let epoch = this.#epoch;
    for (;;) {
      if (error !== undefined) {
        const step = this.next(error, node, connection);
        if (step === undefined) throw error;
        if (step.kind === "redirect") {
          if (++redirects > this.settings.maxRedirections)
            throw tooManyRedirections(error, this.settings.maxRedirections);
          target = step.node;
          asking = step.asking;
        } else {
          target = undefined;
          asking = false;
          const left = deadline - Date.now();
          if (left <= 0) throw error;
          // The topology changed while this attempt failed (a replica promoted): try the new one now.
          if (epoch === this.#epoch) {
            await this.pause(Math.min(backoffDelay(this.settings.backoff, waits++), left), command.options?.signal, {
              watch: step.refresh,
            });
            if (step.refresh) await this.freshTopology();
          }
        }
        toMaster = true; // after any trouble, the master (or the redirection's target) answers
        error = undefined;
      }
      if (this.#closed) throw closedError();
      epoch = this.#epoch;
      node = target ?? this.route(command.slot, command.readonly && !toMaster);
      connection = undefined;
      if (node === undefined) {
        error = new ReplyError(`CLUSTERDOWN no node is known to serve slot ${command.slot} yet`);
        this.scheduleRefresh();
        continue;
      }
      // Fails only when the cap's queue is full or its wait timed out, or the client closed: final.
      const c = await this.pool.connection(node, "command", deadline);
      if (node.recovering && !c.wasReady && c.heldCount >= this.settings.maxOfflineCommands) {
        throw new ClosedError(
          `${node.key} is reconnecting and ${this.settings.maxOfflineCommands} commands already wait for it (maxOfflineCommands)`,
        );
      }
      connection = c;
      node.lastUsed = ++this.pool.tick;
      const options: CommandOptions = {
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal: command.options?.signal,
      };
      try {
        if (!asking) return await c.send(command.args, command.transform, command.buffers, options);
        const [ask, reply] = c.sendMany(
          [{ args: ["ASKING"] }, { args: command.args, transform: command.transform, buffers: command.buffers }],
          options,
        );
        ask!.catch(() => {}); // its failure shows in the command's
        return (await reply) as T;
      } catch (failure) {
        error = failure;
      }
    }
  }

  /** Sends to one node, no redirection followed (SCAN's cursor belongs to the node that gave it). */
  async sendToNode<T>(
    node: ClusterNode,
    args: RedisArgument[],
    transform: Transform<T> | undefined,
    options: CommandOptions | undefined,
  ): Promise<T> {
    const deadline = Date.now() + (options?.timeoutMs ?? this.settings.commandTimeoutMs);
    const connection = await this.pool.connection(node, "command", deadline);
    node.lastUsed = ++this.pool.tick;
    return connection.send(args, transform, false, options);
  }

  /** What to do after `error`: a redirection (the slot map updated for MOVED), a wait, or nothing. */
  next(error: unknown, node: ClusterNode | undefined, connection: RedisConnection | undefined): Step {
    if (error instanceof ReplyError) {
      switch (error.prefix) {
        case "MOVED":
        case "ASK": {
          const to = this.#redirection(error, node);
          if (to === undefined) return undefined;
          if (error.prefix === "ASK") return { kind: "redirect", node: to.node, asking: true };
          this.#slots[to.slot] = to.node;
          this.scheduleRefresh();
          return { kind: "redirect", node: to.node, asking: false };
        }
        case "CLUSTERDOWN":
          return WAIT_AND_REFRESH;
        case "TRYAGAIN":
        case "LOADING":
        case "MASTERDOWN":
          return WAIT;
      }
      return undefined;
    }
    // Nothing was sent on a connection that never completed its handshake: safe to try again.
    if (connection !== undefined && !connection.wasReady && !this.#closed && !isPermanentConnectError(error)) {
      return WAIT_AND_REFRESH;
    }
    return undefined;
  }

  /**
   * Waits `ms`; the caller's abort signal and closing the client cut it
   * short. Commands waiting to be retried are `bounded` by maxOfflineCommands.
   */
  async pause(ms: number, signal: AbortSignal | undefined, how: PauseOptions = {}): Promise<void> {
    const { bounded = true, watch = false } = how;
    if (bounded && this.#waiting >= this.settings.maxOfflineCommands) {
      throw new ClosedError(
        `the cluster is recovering and ${this.settings.maxOfflineCommands} commands already wait to be retried (maxOfflineCommands)`,
      );
    }
    if (signal?.aborted) throw signal.reason;
    if (this.#closed) throw closedError();
    this.#waiting++;
    const either = new AbortController();
    const unlinkCaller = onAbort(signal, () => either.abort(signal!.reason));
    const unlinkClient = onAbort(this.#stop.signal, () => either.abort(this.#stop.signal.reason));
    const wake = () => either.abort(WOKEN);
    this.#sleepers.add(wake);
    if (watch) this.#watch();
    try {
      await sleep(ms, either.signal);
    } catch (error) {
      if (error !== WOKEN) throw error;
    } finally {
      this.#sleepers.delete(wake);
      unlinkCaller();
      unlinkClient();
      this.#waiting--;
    }
  }

  /**
   * While commands wait out a failure (a node gone, CLUSTERDOWN), reads the
   * topology every 250 ms; a read that shows a change (a replica promoted, a
   * slot moved) wakes them at once instead of at the end of their backoff.
   */
  #watch(): void {
    if (this.#watching || this.#closed) return;
    this.#watching = true;
    void (async () => {
      try {
        while (this.#sleepers.size > 0 && !this.#closed) {
          await sleep(WATCH_MS, this.#stop.signal);
          await this.refresh().catch(() => {});
        }
      } catch {
        // closed
      } finally {
        this.#watching = false;
      }
    })();
  }

  /** The target of a MOVED or ASK: `MOVED <slot> <host>:<port>` (an empty host is the node that answered). */
  #redirection(error: ReplyError, from: ClusterNode | undefined): { slot: number; node: ClusterNode } | undefined {
    const [, slotText, address] = error.message.split(" ");
    const colon = address?.lastIndexOf(":") ?? -1;
    const slot = Number(slotText);
    if (address === undefined || colon === -1 || !(slot >= 0 && slot < SLOT_COUNT)) return undefined;
    let hostname = address.slice(0, colon);
    const port = Number(address.slice(colon + 1));
    if (hostname === "") hostname = from?.address.hostname ?? "";
    if (hostname === "" || !(port > 0)) return undefined;
    if (hostname.includes(":") && !hostname.startsWith("[")) hostname = `[${hostname}]`;
    return { slot, node: this.pool.node({ hostname, port }) };
  }

  async #commandInfo(name: string): Promise<CommandSpec> {
    const reply = await this.send<RespValue>(["COMMAND", "INFO", name], undefined, false, undefined);
    return specFromCommandInfo(Array.isArray(reply) ? (reply[0] ?? null) : null);
  }

  /**
   * Asks the nodes in turn for the topology; the first answer wins. Nodes
   * with a live connection go first, then the others, then the seeds; a node
   * that is failing (its next connection waits out a backoff) goes last, so
   * a dead master never holds up the read that finds its replica promoted.
   */
  async #discover(): Promise<void> {
    const known = new Map<string, ClusterNode>();
    for (const node of this.#masters) known.set(node.key, node);
    for (const replicas of this.#replicas.values()) for (const node of replicas) known.set(node.key, node);
    for (const seed of this.settings.seeds) {
      const node = this.pool.node(seed);
      if (!known.has(node.key)) known.set(node.key, node);
    }
    const rank = (node: ClusterNode) =>
      node.command?.wasReady && !node.command.isClosed ? 0 : node.recovering ? 2 : 1;
    const candidates = new Map([...known].sort(([, a], [, b]) => rank(a) - rank(b)));
    const failures: AttemptFailure[] = [];
    let last: unknown;
    for (const node of candidates.values()) {
      if (this.#closed) throw closedError();
      try {
        this.#apply(await this.#ask(node));
        return;
      } catch (error) {
        last = error;
        failures.push({ address: node.key, error });
        // A wrong password or a server without cluster support says the same everywhere.
        if (error instanceof ReplyError && (FINAL.has(error.prefix) || /cluster support disabled/i.test(error.message)))
          throw error;
      }
    }
    throw failures.length === 1 ? last : new AllAttemptsFailedError(failures);
  }

  async #ask(node: ClusterNode): Promise<ShardInfo[]> {
    const deadline = Date.now() + this.settings.connectTimeoutMs + this.settings.commandTimeoutMs;
    const connection = await this.pool.connection(node, "command", deadline);
    const timeoutMs = Math.min(this.settings.commandTimeoutMs, 10_000);
    if (!this.#shardsUnsupported) {
      try {
        const reply = await connection.send<RespValue>(["CLUSTER", "SHARDS"], undefined, false, { timeoutMs });
        return nonEmpty(parseShards(reply, node.address, this.settings.tls), node);
      } catch (error) {
        // Redis before 7.0 has no CLUSTER SHARDS: CLUSTER SLOTS from then on.
        if (!(error instanceof ReplyError && /unknown subcommand|unknown command/i.test(error.message))) throw error;
        this.#shardsUnsupported = true;
      }
    }
    const reply = await connection.send<RespValue>(["CLUSTER", "SLOTS"], undefined, false, { timeoutMs });
    return nonEmpty(parseSlots(reply, node.address), node);
  }

  #apply(shards: ShardInfo[]): void {
    if (this.#closed) return;
    const slots = new Array<ClusterNode | undefined>(SLOT_COUNT).fill(undefined);
    const masters: ClusterNode[] = [];
    const replicas = new Map<ClusterNode, ClusterNode[]>();
    const seen = new Set<ClusterNode>();
    for (const shard of shards) {
      const master = this.pool.node(shard.master);
      master.id = shard.master.id ?? master.id;
      master.role = "master";
      masters.push(master);
      seen.add(master);
      for (const [first, last] of shard.slots) slots.fill(master, first, last + 1);
      const healthy: ClusterNode[] = [];
      for (const info of shard.replicas) {
        const replica = this.pool.node(info);
        replica.id = info.id ?? replica.id;
        replica.role = "replica";
        seen.add(replica);
        if (info.healthy) healthy.push(replica);
      }
      replicas.set(master, healthy);
    }
    let changed = masters.length !== this.#masters.length;
    for (let slot = 0; !changed && slot < SLOT_COUNT; slot++) changed = slots[slot] !== this.#slots[slot];
    this.#slots = slots;
    this.#masters = masters;
    this.#replicas = replicas;
    this.#discovered = true;
    for (const node of [...this.pool.nodes]) if (!seen.has(node)) this.pool.retire(node);
    this.#armPeriodic();
    this.#hooks.onTopology();
    if (changed) {
      this.#epoch++;
      for (const wake of [...this.#sleepers]) wake();
    }
  }

  #armPeriodic(): void {
    if (this.#periodic !== undefined) clearTimeout(this.#periodic);
    this.#periodic = setTimeout(() => {
      this.#periodic = undefined;
      void this.refresh().catch(() => this.#armPeriodic());
    }, this.settings.refreshIntervalMs);
    // A client left open must not keep a Node process alive for its refresh alone.
    (this.#periodic as { unref?: () => void }).unref?.();
  }

  /** Stops refreshing and closes every connection after the replies owed. */
  async close(): Promise<void> {
    this.#shutdown(closedError());
    await this.pool.close();
  }

  /** Stops at once; commands in flight reject with `error`. */
  destroy(error: Error): void {
    this.#shutdown(error);
    this.pool.destroy(error);
  }

  #shutdown(error: Error): void {
    this.#closed = true;
    this.#stop.abort(error);
    if (this.#soon !== undefined) clearTimeout(this.#soon);
    if (this.#periodic !== undefined) clearTimeout(this.#periodic);
    this.#soon = this.#periodic = undefined;
  }
}

function nonEmpty(shards: ShardInfo[], node: ClusterNode): ShardInfo[] {
  if (shards.length === 0)
    throw new ProtocolError(`${node.key} knows of no slot served yet: it is not (yet) part of a cluster`);
  return shards;
}

export function closedError(): ClosedError {
  return new ClosedError("the Redis cluster client is closed");
}

function tooManyRedirections(error: unknown, max: number): Error {
  const text = error instanceof Error ? error.message : String(error);
  return new ReplyError(`${text} (gave up after ${max} redirections: maxRedirections)`);
}
