import { ProtocolError } from "../errors.js";
import type { RespValue } from "./resp/decoder.js";
import type { RedisArgument } from "./resp/encoder.js";

type Transform<T> = (value: RespValue) => T;

// Reply shapes differ between RESP2 and RESP3 (maps, sets, doubles); these
// give each typed command one shape on both.
const asIs = (v: RespValue) => v;
const asString = (v: RespValue) => v as string;
const asNullableString = (v: RespValue) => v as string | null;
const asNullableBytes = (v: RespValue) => v as Uint8Array | null;
const asNumber = (v: RespValue): number => {
  if (typeof v === "number") return v;
  if (typeof v === "string") return parseFloatReply(v);
  if (typeof v === "bigint") {
    // Never round silently: the exact value is one send() away.
    throw new RangeError(
      `the reply ${v} is past Number.MAX_SAFE_INTEGER; use send(...) to get it exactly, as a bigint`,
    );
  }
  throw new ProtocolError(`expected a number in the reply, got ${typeof v}`);
};
const asNullableNumber = (v: RespValue) => (v === null ? null : asNumber(v));
const asBoolean = (v: RespValue) => v === 1 || v === true;
const asStrings = (v: RespValue) => (v instanceof Set ? [...v] : (v as RespValue[])) as string[];
const asNullableStrings = (v: RespValue) => v as (string | null)[];
const asRecord = (v: RespValue): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v instanceof Map) for (const [k, value] of v) out[String(k)] = value as string;
  else {
    const list = v as RespValue[];
    for (let i = 0; i < list.length; i += 2) out[String(list[i])] = list[i + 1] as string;
  }
  return out;
};
/** `ZRANGE … WITHSCORES`: flat `[m, s, m, s]` on RESP2, `[[m, s], …]` on RESP3. */
const asScored = (v: RespValue): Array<{ member: string; score: number }> => {
  const list = v as RespValue[];
  const out: Array<{ member: string; score: number }> = [];
  if (list.length > 0 && Array.isArray(list[0])) {
    for (const pair of list as RespValue[][]) out.push({ member: pair[0] as string, score: asNumber(pair[1]!) });
  } else {
    for (let i = 0; i < list.length; i += 2) out.push({ member: list[i] as string, score: asNumber(list[i + 1]!) });
  }
  return out;
};
const asScanPage = (v: RespValue): [string, RespValue[]] => {
  const [cursor, items] = v as [string, RespValue[]];
  return [String(cursor), items];
};
const asStreamEntries = (v: RespValue): StreamEntry[] =>
  ((v ?? []) as RespValue[][]).map(([id, fields]) => ({ id: id as string, fields: asRecord(fields!) }));

function parseFloatReply(text: string): number {
  if (text === "inf" || text === "+inf") return Infinity;
  if (text === "-inf") return -Infinity;
  const n = Number(text);
  if (Number.isNaN(n) && text !== "nan")
    throw new ProtocolError(`expected a number in the reply, got "${text.slice(0, 40)}"`);
  return n;
}

/** An entry of a stream. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** Options of {@link RedisCommands.set}. */
export interface SetOptions {
  /** Expire after this many seconds. */
  ex?: number;
  /** Expire after this many milliseconds. */
  px?: number;
  /** Expire at this Unix time, in seconds. */
  exat?: number;
  /** Expire at this Unix time, in milliseconds. */
  pxat?: number;
  /** Keep the key's current time to live. */
  keepTtl?: boolean;
  /** Only set if the key does not exist. */
  nx?: boolean;
  /** Only set if the key exists. */
  xx?: boolean;
}

/** Options of the `SCAN` family. */
export interface ScanOptions {
  /** A glob pattern (`MATCH`). */
  match?: string;
  /** A hint for how many keys each round trip returns (`COUNT`). @default Redis's own (10) */
  count?: number;
  /** Only keys of this type (`SCAN` only). */
  type?: string;
}

/**
 * The typed commands, over any `call` (a client, a pipeline, a transaction).
 * Each returns one shape on RESP2 and RESP3. Anything not here:
 * `send(...args)`.
 */
export abstract class RedisCommands {
  /** Sends one command; `transform` turns the reply into the result, `buffers` keeps blob strings as bytes. */
  protected abstract call<T>(args: RedisArgument[], transform?: Transform<T>, buffers?: boolean): Promise<T>;

  /** Any command, its reply as decoded (RESP3 maps as `Map`, sets as `Set`). */
  send(...args: RedisArgument[]): Promise<RespValue> {
    return this.call(args, asIs);
  }

  /** Any command, blob strings in its reply as `Uint8Array`. */
  sendBuffer(...args: RedisArgument[]): Promise<RespValue> {
    return this.call(args, asIs, true);
  }

  // ---- server -----------------------------------------------------------
  ping(message?: string): Promise<string> {
    return this.call(message === undefined ? ["PING"] : ["PING", message], asString);
  }
  echo(message: string): Promise<string> {
    return this.call(["ECHO", message], asString);
  }
  dbsize(): Promise<number> {
    return this.call(["DBSIZE"], asNumber);
  }

  // ---- strings ----------------------------------------------------------
  get(key: RedisArgument): Promise<string | null> {
    return this.call(["GET", key], asNullableString);
  }
  getBuffer(key: RedisArgument): Promise<Uint8Array | null> {
    return this.call(["GET", key], asNullableBytes, true);
  }
  /** `SET`: `"OK"`, or null when `nx`/`xx` kept it from being set. */
  set(key: RedisArgument, value: RedisArgument, options: SetOptions = {}): Promise<"OK" | null> {
    const args: RedisArgument[] = ["SET", key, value];
    if (options.ex !== undefined) args.push("EX", options.ex);
    if (options.px !== undefined) args.push("PX", options.px);
    if (options.exat !== undefined) args.push("EXAT", options.exat);
    if (options.pxat !== undefined) args.push("PXAT", options.pxat);
    if (options.keepTtl) args.push("KEEPTTL");
    if (options.nx) args.push("NX");
    if (options.xx) args.push("XX");
    return this.call(args, (v) => v as "OK" | null);
  }
  getdel(key: RedisArgument): Promise<string | null> {
    return this.call(["GETDEL", key], asNullableString);
  }
  mget(...keys: RedisArgument[]): Promise<(string | null)[]> {
    return this.call(["MGET", ...keys], asNullableStrings);
  }
  mset(values: Record<string, RedisArgument>): Promise<"OK"> {
    return this.call(["MSET", ...Object.entries(values).flat()], (v) => v as "OK");
  }
  incr(key: RedisArgument): Promise<number> {
    return this.call(["INCR", key], asNumber);
  }
  incrBy(key: RedisArgument, by: number | bigint): Promise<number> {
    return this.call(["INCRBY", key, by], asNumber);
  }
  incrByFloat(key: RedisArgument, by: number): Promise<number> {
    return this.call(["INCRBYFLOAT", key, by], asNumber);
  }
  decr(key: RedisArgument): Promise<number> {
    return this.call(["DECR", key], asNumber);
  }
  decrBy(key: RedisArgument, by: number | bigint): Promise<number> {
    return this.call(["DECRBY", key, by], asNumber);
  }
  append(key: RedisArgument, value: RedisArgument): Promise<number> {
    return this.call(["APPEND", key, value], asNumber);
  }
  strlen(key: RedisArgument): Promise<number> {
    return this.call(["STRLEN", key], asNumber);
  }

  // ---- keys and expiry --------------------------------------------------
  del(...keys: RedisArgument[]): Promise<number> {
    return this.call(["DEL", ...keys], asNumber);
  }
  unlink(...keys: RedisArgument[]): Promise<number> {
    return this.call(["UNLINK", ...keys], asNumber);
  }
  exists(...keys: RedisArgument[]): Promise<number> {
    return this.call(["EXISTS", ...keys], asNumber);
  }
  expire(key: RedisArgument, seconds: number): Promise<boolean> {
    return this.call(["EXPIRE", key, seconds], asBoolean);
  }
  pexpire(key: RedisArgument, milliseconds: number): Promise<boolean> {
    return this.call(["PEXPIRE", key, milliseconds], asBoolean);
  }
  persist(key: RedisArgument): Promise<boolean> {
    return this.call(["PERSIST", key], asBoolean);
  }
  /** Seconds left; -1 without expiry, -2 when the key does not exist. */
  ttl(key: RedisArgument): Promise<number> {
    return this.call(["TTL", key], asNumber);
  }
  pttl(key: RedisArgument): Promise<number> {
    return this.call(["PTTL", key], asNumber);
  }
  type(key: RedisArgument): Promise<string> {
    return this.call(["TYPE", key], asString);
  }
  rename(key: RedisArgument, to: RedisArgument): Promise<"OK"> {
    return this.call(["RENAME", key, to], (v) => v as "OK");
  }
  /** Every key matching the options, one round trip per page (`SCAN`), without blocking the server like `KEYS`. */
  scan(options: ScanOptions = {}): AsyncIterableIterator<string> {
    return this.#iterate(["SCAN"], options, (items) => items as string[]);
  }

  // ---- hashes -----------------------------------------------------------
  hget(key: RedisArgument, field: RedisArgument): Promise<string | null> {
    return this.call(["HGET", key, field], asNullableString);
  }
  hgetBuffer(key: RedisArgument, field: RedisArgument): Promise<Uint8Array | null> {
    return this.call(["HGET", key, field], asNullableBytes, true);
  }
  /** Sets fields; resolves with how many were new. */
  hset(key: RedisArgument, fields: Record<string, RedisArgument>): Promise<number> {
    return this.call(["HSET", key, ...Object.entries(fields).flat()], asNumber);
  }
  hmget(key: RedisArgument, ...fields: RedisArgument[]): Promise<(string | null)[]> {
    return this.call(["HMGET", key, ...fields], asNullableStrings);
  }
  /** All fields as an object, on RESP2 (a flat list) and RESP3 (a map) alike. */
  hgetall(key: RedisArgument): Promise<Record<string, string>> {
    return this.call(["HGETALL", key], asRecord);
  }
  hdel(key: RedisArgument, ...fields: RedisArgument[]): Promise<number> {
    return this.call(["HDEL", key, ...fields], asNumber);
  }
  hexists(key: RedisArgument, field: RedisArgument): Promise<boolean> {
    return this.call(["HEXISTS", key, field], asBoolean);
  }
  hincrBy(key: RedisArgument, field: RedisArgument, by: number): Promise<number> {
    return this.call(["HINCRBY", key, field, by], asNumber);
  }
  hkeys(key: RedisArgument): Promise<string[]> {
    return this.call(["HKEYS", key], asStrings);
  }
  hvals(key: RedisArgument): Promise<string[]> {
    return this.call(["HVALS", key], asStrings);
  }
  hlen(key: RedisArgument): Promise<number> {
    return this.call(["HLEN", key], asNumber);
  }
  /** Every `[field, value]` of a hash (`HSCAN`). */
  hscan(key: RedisArgument, options: Omit<ScanOptions, "type"> = {}): AsyncIterableIterator<[string, string]> {
    return this.#iterate(["HSCAN", key], options, (items) => pairs(items as string[]));
  }

  // ---- lists ------------------------------------------------------------
  lpush(key: RedisArgument, ...values: RedisArgument[]): Promise<number> {
    return this.call(["LPUSH", key, ...values], asNumber);
  }
  rpush(key: RedisArgument, ...values: RedisArgument[]): Promise<number> {
    return this.call(["RPUSH", key, ...values], asNumber);
  }
  lpop(key: RedisArgument): Promise<string | null> {
    return this.call(["LPOP", key], asNullableString);
  }
  rpop(key: RedisArgument): Promise<string | null> {
    return this.call(["RPOP", key], asNullableString);
  }
  lrange(key: RedisArgument, start: number, stop: number): Promise<string[]> {
    return this.call(["LRANGE", key, start, stop], asStrings);
  }
  llen(key: RedisArgument): Promise<number> {
    return this.call(["LLEN", key], asNumber);
  }
  lindex(key: RedisArgument, index: number): Promise<string | null> {
    return this.call(["LINDEX", key, index], asNullableString);
  }
  lrem(key: RedisArgument, count: number, value: RedisArgument): Promise<number> {
    return this.call(["LREM", key, count, value], asNumber);
  }
  ltrim(key: RedisArgument, start: number, stop: number): Promise<"OK"> {
    return this.call(["LTRIM", key, start, stop], (v) => v as "OK");
  }

  // ---- sets -------------------------------------------------------------
  sadd(key: RedisArgument, ...members: RedisArgument[]): Promise<number> {
    return this.call(["SADD", key, ...members], asNumber);
  }
  srem(key: RedisArgument, ...members: RedisArgument[]): Promise<number> {
    return this.call(["SREM", key, ...members], asNumber);
  }
  /** Members as an array, on RESP2 (a list) and RESP3 (a set) alike. */
  smembers(key: RedisArgument): Promise<string[]> {
    return this.call(["SMEMBERS", key], asStrings);
  }
  sismember(key: RedisArgument, member: RedisArgument): Promise<boolean> {
    return this.call(["SISMEMBER", key, member], asBoolean);
  }
  scard(key: RedisArgument): Promise<number> {
    return this.call(["SCARD", key], asNumber);
  }
  sscan(key: RedisArgument, options: Omit<ScanOptions, "type"> = {}): AsyncIterableIterator<string> {
    return this.#iterate(["SSCAN", key], options, (items) => items as string[]);
  }

  // ---- sorted sets -------------------------------------------------------
  /** Adds members with scores; resolves with how many were new. */
  zadd(key: RedisArgument, members: ReadonlyArray<{ score: number; member: RedisArgument }>): Promise<number> {
    return this.call(["ZADD", key, ...members.flatMap((m) => [m.score, m.member])], asNumber);
  }
  zrem(key: RedisArgument, ...members: RedisArgument[]): Promise<number> {
    return this.call(["ZREM", key, ...members], asNumber);
  }
  /** The score as a number (RESP2 sends text, RESP3 a double), or null. */
  zscore(key: RedisArgument, member: RedisArgument): Promise<number | null> {
    return this.call(["ZSCORE", key, member], asNullableNumber);
  }
  zincrBy(key: RedisArgument, by: number, member: RedisArgument): Promise<number> {
    return this.call(["ZINCRBY", key, by, member], asNumber);
  }
  zcard(key: RedisArgument): Promise<number> {
    return this.call(["ZCARD", key], asNumber);
  }
  zrank(key: RedisArgument, member: RedisArgument): Promise<number | null> {
    return this.call(["ZRANK", key, member], (v) => v as number | null);
  }
  zrange(key: RedisArgument, start: number | string, stop: number | string): Promise<string[]> {
    return this.call(["ZRANGE", key, start, stop], asStrings);
  }
  /** `ZRANGE … WITHSCORES` as `{ member, score }` objects. */
  zrangeWithScores(
    key: RedisArgument,
    start: number | string,
    stop: number | string,
  ): Promise<Array<{ member: string; score: number }>> {
    return this.call(["ZRANGE", key, start, stop, "WITHSCORES"], asScored);
  }
  zscan(
    key: RedisArgument,
    options: Omit<ScanOptions, "type"> = {},
  ): AsyncIterableIterator<{ member: string; score: number }> {
    return this.#iterate(["ZSCAN", key], options, (items) =>
      pairs(items as string[]).map(([member, score]) => ({ member, score: asNumber(score) })),
    );
  }

  // ---- streams (basics) ----------------------------------------------------
  /** `XADD key id field value …`; `id` is usually `"*"`. Resolves with the entry's id. */
  xadd(key: RedisArgument, id: string, fields: Record<string, RedisArgument>): Promise<string> {
    return this.call(["XADD", key, id, ...Object.entries(fields).flat()], asString);
  }
  xlen(key: RedisArgument): Promise<number> {
    return this.call(["XLEN", key], asNumber);
  }
  xrange(key: RedisArgument, start = "-", end = "+", count?: number): Promise<StreamEntry[]> {
    return this.call(
      count === undefined ? ["XRANGE", key, start, end] : ["XRANGE", key, start, end, "COUNT", count],
      asStreamEntries,
    );
  }
  xdel(key: RedisArgument, ...ids: string[]): Promise<number> {
    return this.call(["XDEL", key, ...ids], asNumber);
  }

  // ---- pub/sub --------------------------------------------------------------
  /** Publishes; resolves with how many subscribers received it. */
  publish(channel: RedisArgument, message: RedisArgument): Promise<number> {
    return this.call(["PUBLISH", channel, message], asNumber);
  }
  /** Publishes to a shard channel (Redis 7). */
  spublish(channel: RedisArgument, message: RedisArgument): Promise<number> {
    return this.call(["SPUBLISH", channel, message], asNumber);
  }

  // ---- scripts -------------------------------------------------------------
  eval(script: string, keys: readonly RedisArgument[] = [], args: readonly RedisArgument[] = []): Promise<RespValue> {
    return this.call(["EVAL", script, keys.length, ...keys, ...args], asIs);
  }
  evalsha(sha1: string, keys: readonly RedisArgument[] = [], args: readonly RedisArgument[] = []): Promise<RespValue> {
    return this.call(["EVALSHA", sha1, keys.length, ...keys, ...args], asIs);
  }

  async *#iterate<T>(
    head: RedisArgument[],
    options: ScanOptions,
    unpack: (items: RespValue[]) => T[],
  ): AsyncIterableIterator<T> {
    const tail: RedisArgument[] = [];
    if (options.match !== undefined) tail.push("MATCH", options.match);
    if (options.count !== undefined) tail.push("COUNT", options.count);
    if (options.type !== undefined) tail.push("TYPE", options.type);
    let cursor = "0";
    do {
      const [next, items] = await this.call([...head, cursor, ...tail], asScanPage);
      cursor = next;
      yield* unpack(items);
    } while (cursor !== "0");
  }
}

function pairs(items: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < items.length; i += 2) out.push([items[i]!, items[i + 1]!]);
  return out;
}
