import { parseSocketAddress } from "../../address.js";
import { reconnectSettings, type BackoffOptions } from "../../backoff.js";
import type { Connect, SocketAddress } from "../../types.js";
import type { ReconnectOptions } from "../client.js";
import type { RespLimits } from "../resp/decoder.js";
import type { RedisArgument } from "../resp/encoder.js";
import { parseRedisUrl } from "../url.js";
import type { CommandSpec } from "./keys.js";

/** Options for {@link createRedisCluster}. */
export interface RedisClusterOptions extends RespLimits {
  /** `connect` from `cloudflare:sockets`, `@sockkit/adapter-workers` or `@sockkit/adapter-node`. */
  connect: Connect;
  /**
   * Where to start: `redis://[[user]:password@]host:port` URLs (`rediss://`
   * for TLS) or `{ hostname, port }`. One reachable node is enough; the
   * rest of the cluster is discovered from it. Credentials and TLS come
   * from the first URL unless the options below say otherwise; a plain
   * `"host:port"` works too.
   */
  nodes: ReadonlyArray<string | SocketAddress>;
  /** ACL user name. @default "default" when a password is given */
  username?: string;
  /** Password (`AUTH`). @default none */
  password?: string;
  /** Database index: a cluster has only database 0; anything else is refused with a TypeError. @default 0 */
  db?: number;
  /** Protocol version, as for `createRedisClient`. On 2, pub/sub takes one more connection per node it uses. @default 3 */
  protocol?: 2 | 3;
  /** TLS (`secureTransport: "on"`) to every node. @default true for rediss:// seeds, else false */
  tls?: boolean;
  /** Name shown in `CLIENT LIST` on every node. @default none */
  clientName?: string;
  /** Each connection's connect and handshake deadline, in milliseconds. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Each command's deadline, in milliseconds, redirections and retries
   * (`TRYAGAIN`, `CLUSTERDOWN`, a node not answering yet) included.
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
   * Reconnection is always on for a cluster: these tune it. A command in
   * flight when its connection is lost rejects with `ECLOSED` (whether it
   * ran is unknown); one not yet sent waits for the node to come back, or
   * for its replica to take over, within its deadline.
   * @default { retries: Infinity, baseDelayMs: 100, maxDelayMs: 5000, maxOfflineCommands: 1000 }
   */
  reconnect?: true | ReconnectOptions;
  /**
   * `"replica"` sends read-only commands to a replica of the slot's master
   * (round robin, after `READONLY`), falling back to the master when it has
   * none or it fails. Replicas lag behind: a read may not see a write just made.
   * @default "master"
   */
  readFrom?: "master" | "replica";
  /**
   * Most connections open at once, subscriber connections included. A Worker
   * may hold 6 per request. Past it, an idle connection is closed to make room.
   * @default 6
   */
  maxConnections?: number;
  /** Commands that may wait for a connection when all `maxConnections` are busy; past it they reject with `ECLOSED`. @default 1000 */
  maxQueuedCommands?: number;
  /** How often the topology is read again, besides after a redirection or a lost connection, in milliseconds. @default 10000 */
  refreshIntervalMs?: number;
  /** Redirections (`MOVED`, `ASK`) one command may follow. @default 16 */
  maxRedirections?: number;
  /**
   * Where the keys are, for commands the built-in table does not know and
   * whose `COMMAND INFO` key specs cannot say (module commands without
   * key specs), by upper-case command name. @default none
   * @example { "MY.CMD": (args) => [args[1]] }
   */
  commandKeys?: Record<string, (args: readonly RedisArgument[]) => readonly RedisArgument[]>;
  /**
   * Maps each node address the cluster announces to the one to connect to
   * (a NAT, a tunnel, a container network). @default as announced
   */
  mapAddress?: (address: SocketAddress) => SocketAddress;
}

/** The options, checked, with their defaults. */
export interface ClusterSettings extends RespLimits {
  connect: Connect;
  seeds: SocketAddress[];
  username: string | undefined;
  password: string | undefined;
  protocol: 2 | 3;
  tls: boolean;
  clientName: string | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  traceArguments: boolean;
  backoff: Required<BackoffOptions>;
  maxOfflineCommands: number;
  readFrom: "master" | "replica";
  maxConnections: number;
  maxQueuedCommands: number;
  refreshIntervalMs: number;
  maxRedirections: number;
  commandKeys: Map<string, CommandSpec>;
  mapAddress: ((address: SocketAddress) => SocketAddress) | undefined;
}

export function clusterSettings(options: RedisClusterOptions): ClusterSettings {
  if (typeof options !== "object" || options === null)
    throw new TypeError("createRedisCluster() expects an options object");
  if (typeof options.connect !== "function")
    throw new TypeError("createRedisCluster() needs a connect function (from cloudflare:sockets or an adapter)");
  if (!Array.isArray(options.nodes) || options.nodes.length === 0)
    throw new TypeError('createRedisCluster() needs nodes: one or more "redis://host:port" URLs of cluster nodes');
  let fromUrl: ReturnType<typeof parseRedisUrl> | undefined;
  const seeds = options.nodes.map((seed: string | SocketAddress) => {
    if (typeof seed !== "string" || !seed.includes("://")) return checkedAddress(parseSocketAddress(seed));
    const url = parseRedisUrl(seed);
    fromUrl ??= url;
    if (url.db !== undefined && url.db !== 0)
      throw new TypeError(`a Redis Cluster has only database 0; the URL asks for database ${url.db}`);
    return checkedAddress({ hostname: url.hostname, port: url.port });
  });
  if (options.db !== undefined && options.db !== 0)
    throw new TypeError(`a Redis Cluster has only database 0, got db: ${String(options.db)}`);
  const protocol = options.protocol ?? 3;
  if (protocol !== 2 && protocol !== 3) throw new TypeError(`protocol must be 2 or 3, got ${String(protocol)}`);
  if (options.readFrom !== undefined && options.readFrom !== "master" && options.readFrom !== "replica")
    throw new TypeError(`readFrom must be "master" or "replica", got ${String(options.readFrom)}`);
  if ((options.reconnect as unknown) === false)
    throw new TypeError("a Redis Cluster client always reconnects; pass reconnect options to tune it, not false");
  const reconnect = reconnectSettings(options.reconnect ?? true, "maxOfflineCommands");
  const positive = (key: keyof RedisClusterOptions, fallback: number, integer = false): number => {
    const value = options[key] ?? fallback;
    if (typeof value !== "number" || !(value > 0) || (integer && !Number.isInteger(value)))
      throw new TypeError(`${key} must be a positive ${integer ? "integer" : "number"}, got ${String(value)}`);
    return value;
  };
  const commandKeys = new Map<string, CommandSpec>();
  for (const [name, keys] of Object.entries(options.commandKeys ?? {})) {
    if (typeof keys !== "function") throw new TypeError(`commandKeys.${name} must be a function of the arguments`);
    commandKeys.set(name.toUpperCase(), {
      first: 0,
      last: 0,
      step: 1,
      readonly: false,
      keys: (args) => [...keys(args)],
    });
  }
  if (options.mapAddress !== undefined && typeof options.mapAddress !== "function")
    throw new TypeError("mapAddress must be a function");
  return {
    connect: options.connect,
    seeds,
    maxBulkLength: options.maxBulkLength,
    maxAggregateLength: options.maxAggregateLength,
    maxDepth: options.maxDepth,
    username: options.username ?? fromUrl?.username,
    password: options.password ?? fromUrl?.password,
    protocol,
    tls: options.tls ?? fromUrl?.tls ?? false,
    clientName: options.clientName,
    connectTimeoutMs: positive("connectTimeoutMs", 10_000),
    commandTimeoutMs: positive("commandTimeoutMs", 30_000),
    traceArguments: options.traceArguments === true,
    backoff: { retries: reconnect.retries, baseDelayMs: reconnect.baseDelayMs, maxDelayMs: reconnect.maxDelayMs },
    maxOfflineCommands: reconnect.maxOfflineCommands,
    readFrom: options.readFrom ?? "master",
    maxConnections: positive("maxConnections", 6, true),
    maxQueuedCommands: positive("maxQueuedCommands", 1000, true),
    refreshIntervalMs: positive("refreshIntervalMs", 10_000),
    maxRedirections: positive("maxRedirections", 16, true),
    commandKeys,
    mapAddress: options.mapAddress,
  };
}

function checkedAddress(address: SocketAddress): SocketAddress {
  const hostname =
    address.hostname.includes(":") && !address.hostname.startsWith("[") ? `[${address.hostname}]` : address.hostname;
  return { hostname, port: address.port };
}
