import { ReplyError } from "../../errors.js";
import { decodeUtf8 } from "../../text.js";
import type { RespValue } from "../resp/decoder.js";
import type { RedisArgument } from "../resp/encoder.js";
import { keySlot } from "./slot.js";

/**
 * Where a command's keys are: positions `first` to `last` (negative counts
 * from the end) every `step`, or what `keys` returns for irregular ones.
 * `first` 0 means no key.
 */
export interface CommandSpec {
  first: number;
  last: number;
  step: number;
  /** Read-only: may be served by a replica (`readFrom: "replica"`). */
  readonly: boolean;
  keys?: (args: readonly RedisArgument[]) => RedisArgument[];
  /** Redis 6's `movablekeys` without key specs: ask the server (`COMMAND GETKEYS`) each time. */
  askServer?: boolean;
}

/** A command routed to no slot in particular (any master). */
export const KEYLESS = -1;

export const KEYLESS_SPEC: CommandSpec = { first: 0, last: 0, step: 1, readonly: false };

const TABLE = new Map<string, CommandSpec>();

function add(names: string, first: number, last: number, step: number, readonly: boolean): void {
  for (const name of names.split(" ")) TABLE.set(name, { first, last, step, readonly });
}
function addFinder(names: string, readonly: boolean, keys: (args: readonly RedisArgument[]) => RedisArgument[]) {
  for (const name of names.split(" ")) TABLE.set(name, { first: 0, last: 0, step: 1, readonly, keys });
}

// The common commands of Redis 7, so that they route without asking the server; anything else is
// looked up once with COMMAND INFO (its key specs), or given with the `commandKeys` option.
add(
  "GET GETRANGE SUBSTR STRLEN GETBIT BITCOUNT BITPOS BITFIELD_RO TTL PTTL EXPIRETIME PEXPIRETIME TYPE DUMP " +
    "HGET HMGET HGETALL HEXISTS HKEYS HVALS HLEN HSTRLEN HSCAN HRANDFIELD LRANGE LLEN LINDEX LPOS " +
    "SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SSCAN ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK " +
    "ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZRANDMEMBER ZSCAN " +
    "XLEN XRANGE XREVRANGE XPENDING GEOPOS GEODIST GEOHASH GEORADIUS_RO GEORADIUSBYMEMBER_RO GEOSEARCH SORT_RO",
  1,
  1,
  1,
  true,
);
add(
  "SET SETNX SETEX PSETEX GETSET GETDEL GETEX APPEND INCR INCRBY INCRBYFLOAT DECR DECRBY SETRANGE SETBIT BITFIELD " +
    "EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST RESTORE HSET HSETNX HMSET HDEL HINCRBY HINCRBYFLOAT " +
    "LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LSET LINSERT LREM LTRIM SADD SREM SPOP " +
    "ZADD ZREM ZINCRBY ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZPOPMIN ZPOPMAX " +
    "XADD XDEL XTRIM XACK XCLAIM XAUTOCLAIM XSETID PFADD GEOADD SPUBLISH",
  1,
  1,
  1,
  false,
);
add("MGET EXISTS SINTER SUNION SDIFF PFCOUNT TOUCH", 1, -1, 1, true);
add("DEL UNLINK SINTERSTORE SUNIONSTORE SDIFFSTORE PFMERGE", 1, -1, 1, false);
add("MSET MSETNX", 1, -1, 2, false);
add("LCS", 1, 2, 1, true);
add("RENAME RENAMENX SMOVE RPOPLPUSH LMOVE BRPOPLPUSH BLMOVE COPY ZRANGESTORE GEOSEARCHSTORE", 1, 2, 1, false);
add("BLPOP BRPOP BZPOPMIN BZPOPMAX", 1, -2, 1, false);

/** `numkeys` at `at`, the keys right after it (and `before`, a key ahead of it, e.g. a destination). */
const numkeys =
  (at: number, before = 0) =>
  (args: readonly RedisArgument[]): RedisArgument[] => {
    const n = Number(args[at] ?? 0);
    const keys: RedisArgument[] = before > 0 && args.length > before ? [args[before]!] : [];
    if (!Number.isInteger(n) || n < 0) return keys; // the server refuses it
    return keys.concat(args.slice(at + 1, at + 1 + n));
  };
addFinder("EVAL EVALSHA FCALL", false, numkeys(2));
addFinder("EVAL_RO EVALSHA_RO FCALL_RO", true, numkeys(2));
addFinder("ZUNIONSTORE ZINTERSTORE ZDIFFSTORE", false, numkeys(2, 1));
addFinder("ZUNION ZINTER ZDIFF SINTERCARD ZINTERCARD", true, numkeys(1));
addFinder("LMPOP ZMPOP", false, numkeys(1));
addFinder("BLMPOP BZMPOP", false, numkeys(2));
/** `XREAD … STREAMS k1 k2 id1 id2`: the first half of what follows STREAMS. */
const streams = (args: readonly RedisArgument[]): RedisArgument[] => {
  for (let i = 1; i < args.length; i++) {
    if (String(args[i]).toUpperCase() === "STREAMS") {
      const rest = args.length - i - 1;
      return args.slice(i + 1, i + 1 + Math.floor(rest / 2));
    }
  }
  return [];
};
addFinder("XREAD", true, streams);
addFinder("XREADGROUP", false, streams);
/** `SORT key … STORE dest`, `GEORADIUS key … STORE|STOREDIST dest`. */
const withStore = (args: readonly RedisArgument[]): RedisArgument[] => {
  const keys: RedisArgument[] = args.length > 1 ? [args[1]!] : [];
  for (let i = 2; i < args.length - 1; i++) {
    const word = typeof args[i] === "string" ? (args[i] as string).toUpperCase() : "";
    if (word === "STORE" || word === "STOREDIST") keys.push(args[i + 1]!);
  }
  return keys;
};
addFinder("SORT GEORADIUS GEORADIUSBYMEMBER", false, withStore);
// Container commands whose key is the third argument (`OBJECT ENCODING key`); HELP and friends have none.
const third = (args: readonly RedisArgument[]) => (args.length > 2 ? [args[2]!] : []);
addFinder("OBJECT XINFO MEMORY", true, third);
addFinder("XGROUP", false, third);

// Keyless commands: any master answers (for the whole cluster, or for itself: DBSIZE, KEYS, INFO).
for (const name of (
  "PING ECHO INFO DBSIZE TIME LASTSAVE CLUSTER COMMAND CONFIG CLIENT SCRIPT FUNCTION FLUSHALL FLUSHDB KEYS SCAN " +
  "RANDOMKEY PUBLISH PUBSUB DEBUG SLOWLOG LATENCY ACL ROLE LOLWUT SAVE BGSAVE BGREWRITEAOF WAIT READONLY READWRITE"
).split(" "))
  TABLE.set(name, KEYLESS_SPEC);

/**
 * Commands that change the state of the connection they run on: on a cluster
 * each may land on any node, so they are refused with the method to use.
 */
const CONNECTION_STATE: Record<string, string> = {
  MULTI: "use cluster.multi(tx => …)",
  EXEC: "use cluster.multi(tx => …)",
  DISCARD: "use cluster.multi(tx => …)",
  WATCH: "WATCH needs a connection of its own, which a cluster client does not lend out",
  UNWATCH: "WATCH needs a connection of its own, which a cluster client does not lend out",
  SELECT: "a cluster has database 0 only",
  SWAPDB: "a cluster has database 0 only",
  MOVE: "a cluster has database 0 only",
  HELLO: "the client negotiates the protocol itself (the protocol option)",
  AUTH: "pass username and password in the options",
  QUIT: "use cluster.close()",
  RESET: "use cluster.close() and a new client",
  MONITOR: "use a client of its own on one node",
  SUBSCRIBE: "use cluster.subscribe()",
  UNSUBSCRIBE: "use the subscription's unsubscribe()",
  PSUBSCRIBE: "use cluster.psubscribe()",
  PUNSUBSCRIBE: "use the subscription's unsubscribe()",
  SSUBSCRIBE: "use cluster.ssubscribe()",
  SUNSUBSCRIBE: "use the subscription's unsubscribe()",
};

/** Why `name` cannot be sent through a cluster client, or undefined. */
export function refusedCommand(name: string): string | undefined {
  return CONNECTION_STATE[name];
}

/** The command's name, upper-cased. */
export function commandName(arg: RedisArgument | undefined): string {
  if (typeof arg === "string") return arg.toUpperCase();
  if (arg instanceof Uint8Array) return decodeUtf8(arg, 0, arg.length).toUpperCase();
  return String(arg).toUpperCase();
}

/** The built-in spec of a command, or undefined (look it up with COMMAND INFO). */
export function builtinSpec(args: readonly RedisArgument[]): CommandSpec | undefined {
  const name = args[0];
  if (typeof name === "string") return TABLE.get(name) ?? TABLE.get(name.toUpperCase());
  return TABLE.get(commandName(name));
}

/** The keys a spec finds in `args`. */
export function keysOf(spec: CommandSpec, args: readonly RedisArgument[]): RedisArgument[] {
  if (spec.keys) return spec.keys(args);
  if (spec.first === 0) return [];
  const last = spec.last < 0 ? args.length + spec.last : Math.min(spec.last, args.length - 1);
  const keys: RedisArgument[] = [];
  for (let i = spec.first; i <= last; i += spec.step) keys.push(args[i]!);
  return keys;
}

/**
 * The one slot every key of the command hashes to, or KEYLESS. Keys in
 * different slots throw a `CROSSSLOT` ReplyError naming them (nothing is sent).
 */
export function slotOf(spec: CommandSpec, args: readonly RedisArgument[]): number {
  if (spec.keys === undefined && spec.first === 1 && spec.last === 1) {
    return args.length > 1 ? keySlot(args[1]!) : KEYLESS; // most commands: one key, no array built
  }
  return slotOfKeys(keysOf(spec, args), commandName(args[0]));
}

/** The slot of all `keys` (KEYLESS for none); throws `CROSSSLOT` when they differ. */
export function slotOfKeys(keys: readonly RedisArgument[], what: string): number {
  if (keys.length === 0) return KEYLESS;
  const slot = keySlot(keys[0]!);
  for (let i = 1; i < keys.length; i++) {
    if (keySlot(keys[i]!) !== slot) throw crossSlot(keys, what);
  }
  return slot;
}

/** The error for keys of one command or transaction in different slots. */
export function crossSlot(keys: readonly RedisArgument[], what: string): ReplyError {
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = keySlot(key);
    const list = bySlot.get(slot) ?? [];
    if (!bySlot.has(slot)) bySlot.set(slot, list);
    if (list.length < 3)
      list.push(JSON.stringify(key instanceof Uint8Array ? decodeUtf8(key, 0, key.length) : String(key)).slice(0, 60));
  }
  const detail = [...bySlot].map(([slot, names]) => `slot ${slot}: ${names.join(", ")}`).join("; ");
  const error = new ReplyError(
    `CROSSSLOT ${what}'s keys hash to ${bySlot.size} different slots (${detail}); nothing was sent. ` +
      `Keys that share a hash tag ({…}) share a slot`,
  );
  error.command = what;
  return error;
}

/**
 * A command's spec from its `COMMAND INFO` entry: Redis 7's key specs
 * (`begin_search` by index or keyword, `find_keys` by range or keynum), else
 * the first/last/step of Redis 6 (asking the server per call for movable keys).
 */
export function specFromCommandInfo(entry: RespValue): CommandSpec {
  if (!Array.isArray(entry)) return KEYLESS_SPEC; // nil: no such command, let the server say so
  const subcommands = asList(entry[9]).filter(Array.isArray);
  if (subcommands.length > 0) {
    // A container (`OBJECT ENCODING key`): each subcommand ("object|encoding") has its own specs.
    const bySub = new Map(subcommands.map((sub) => [String(sub[0]).toLowerCase(), specFromCommandInfo(sub)]));
    const of = (args: readonly RedisArgument[]) =>
      bySub.get(`${String(entry[0]).toLowerCase()}|${commandName(args[1]).toLowerCase()}`) ?? KEYLESS_SPEC;
    return { first: 0, last: 0, step: 1, readonly: false, keys: (args) => keysOf(of(args), args) };
  }
  const flags = new Set([...asList(entry[2])].map((f) => String(f).toLowerCase()));
  const readonly = flags.has("readonly");
  const keySpecs = asList(entry[8]).map(asRecord);
  // A spec Redis flags INCOMPLETE (MIGRATE's KEYS, SORT's STORE) is finished by code inside the server.
  const incomplete = keySpecs.some((s) =>
    asList(s.flags ?? null).some((f) => String(f).toLowerCase() === "incomplete"),
  );
  if (keySpecs.length > 0 && !incomplete && keySpecs.every(supported)) {
    return { first: 0, last: 0, step: 1, readonly, keys: (args) => keySpecs.flatMap((s) => findKeys(s, args)) };
  }
  const [first, last, step] = [Number(entry[3]), Number(entry[4]), Number(entry[5])];
  if (flags.has("movablekeys") || keySpecs.length > 0) return { ...KEYLESS_SPEC, readonly, askServer: true };
  if (!(first > 0)) return { ...KEYLESS_SPEC, readonly };
  return { first, last, step: step > 0 ? step : 1, readonly };
}

type Rec = Record<string, RespValue>;

function asList(value: RespValue | undefined): RespValue[] {
  if (value instanceof Set) return [...value];
  return Array.isArray(value) ? value : [];
}

/** A RESP3 map or a RESP2 flat list of pairs as an object. */
function asRecord(value: RespValue): Rec {
  const out: Rec = {};
  if (value instanceof Map) for (const [k, v] of value) out[String(k)] = v;
  else if (Array.isArray(value)) for (let i = 0; i + 1 < value.length; i += 2) out[String(value[i])] = value[i + 1]!;
  return out;
}

function supported(spec: Rec): boolean {
  const begin = asRecord(spec.begin_search ?? null);
  const find = asRecord(spec.find_keys ?? null);
  return (begin.type === "index" || begin.type === "keyword") && (find.type === "range" || find.type === "keynum");
}

/** Redis's own key-spec walk (getKeysUsingKeySpecs), for one spec. */
function findKeys(spec: Rec, args: readonly RedisArgument[]): RedisArgument[] {
  const begin = asRecord(spec.begin_search!);
  const beginSpec = asRecord(begin.spec ?? null);
  const find = asRecord(spec.find_keys!);
  const findSpec = asRecord(find.spec ?? null);
  const argc = args.length;
  let first: number;
  if (begin.type === "index") first = Number(beginSpec.index);
  else {
    const keyword = String(beginSpec.keyword).toUpperCase();
    const from = Number(beginSpec.startfrom);
    first = -1;
    if (from >= 0) {
      for (let i = from; i < argc; i++) if (commandName(args[i]) === keyword) ((first = i + 1), (i = argc));
    } else {
      for (let i = argc + from; i >= 1; i--) if (commandName(args[i]) === keyword) ((first = i + 1), (i = 0));
    }
    if (first < 0) return [];
  }
  let last: number;
  let step: number;
  if (find.type === "range") {
    const lastkey = Number(findSpec.lastkey);
    const limit = Number(findSpec.limit);
    step = Math.max(1, Number(findSpec.keystep));
    if (lastkey >= 0) last = first + lastkey;
    else if (!limit) last = argc + lastkey;
    else last = first + Math.floor((argc - first) / limit) + lastkey;
  } else {
    const count = Number(args[first + Number(findSpec.keynumidx)]);
    if (!Number.isInteger(count) || count < 0) return [];
    step = Math.max(1, Number(findSpec.keystep));
    first += Number(findSpec.firstkey);
    last = first + (count - 1) * step;
  }
  const keys: RedisArgument[] = [];
  for (let i = first; i <= last && i < argc; i += step) keys.push(args[i]!);
  return keys;
}
