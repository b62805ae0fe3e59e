import { ProtocolError, ReplyError, TooLargeError } from "../../errors.js";
import { concat } from "../../bytes.js";
import { decodeUtf8, SHORT_TEXT, shortText, type DecodeUtf8 } from "../../text.js";

/**
 * A decoded RESP value. Blob strings are `string` (UTF-8) or, for replies
 * asked for as bytes, `Uint8Array`; integers are `number` (or `bigint`
 * outside ±2^53); RESP3 maps are `Map`, sets are `Set`; an error inside an
 * aggregate (an `EXEC` result) is a `ReplyError` value.
 */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | ReplyError
  | RespValue[]
  | Map<RespValue, RespValue>
  | Set<RespValue>;

/** Limits checked before anything is allocated for a frame. */
export interface RespLimits {
  /**
   * Largest blob string, and longest simple string, error, double or big number line, accepted, in
   * bytes. Redis's own limit (`proto-max-bulk-len`) is 512 MB, which a Worker (128 MB) cannot hold.
   * @default 33554432 (32 MiB); at most 536870912 (512 MiB)
   */
  maxBulkLength?: number;
  /** Most elements in one array, set, map (pairs count twice) or push. @default 1048576 */
  maxAggregateLength?: number;
  /** Deepest nesting of aggregates. @default 64 */
  maxDepth?: number;
}

export interface RespDecoderOptions extends RespLimits {
  /** Each complete top-level reply, in order (error replies as `ReplyError` values). */
  onReply(value: RespValue): void;
  /** Each RESP3 push frame (pub/sub messages, invalidations). @default pushes are passed to onReply */
  onPush?(value: RespValue[]): void;
  /** RESP3 attributes that precede a reply (e.g. key popularity). @default ignored */
  onAttributes?(attributes: Map<RespValue, RespValue>): void;
  /** Asked at the start of each top-level reply: true to get its blob strings as bytes. @default all strings */
  returnBuffers?(): boolean;
  /**
   * Turns bytes into strings (`utf8DecoderOf(connect)` gives the runtime's
   * fastest). A leading U+FEFF is kept: it is part of the value.
   * @default decodeUtf8 (TextDecoder, with short ASCII built in JS)
   */
  decodeUtf8?: DecodeUtf8;
}

export const RESP_DEFAULT_LIMITS = {
  maxBulkLength: 32 * 1024 * 1024,
  maxAggregateLength: 1024 * 1024,
  maxDepth: 64,
} as const;
export const RESP_MAX_BULK_LENGTH = 512 * 1024 * 1024;

const CR = 13;
const LF = 10;
// An unfinished line up to this long waits in the buffer and is joined with the next chunk; a longer
// one (a long simple string or error, split across reads) collects its pieces, so that a line
// arriving in many reads is not copied again for each.
const LINE_IN_BUFFER = 4 * 1024;
const EMPTY = new Uint8Array(0);
// Blobs up to this size (most values) are assembled in one buffer allocated from their header.
const PREALLOCATE_BULK = 8 * 1024 * 1024;

// Type bytes whose line is a number: $ ! = (blob lengths), : (integer), * ~ > % | (counts).
const NUMBER_LINE = new Uint8Array(256);
for (const type of [36, 33, 61, 58, 42, 126, 62, 37, 124]) NUMBER_LINE[type] = 1;
// Type bytes whose line is the value: + (simple string), - (error), , (double), ( (big number), _ (null), # (boolean).
const VALUE_LINE = new Uint8Array(256);
for (const type of [43, 45, 44, 40, 95, 35]) VALUE_LINE[type] = 1;

interface Frame {
  type: number;
  remaining: number;
  items: RespValue[];
}

/**
 * A streaming RESP2/RESP3 decoder: feed it chunks split anywhere; it calls
 * `onReply` for each complete reply. Resumable at any byte without
 * re-parsing: a partial header waits in a small buffer, a partial blob is
 * filled in place, and aggregates keep a stack. After a protocol error or a
 * limit breach it throws (`EPROTOCOL`, `ETOOLARGE`) and stays failed.
 */
export class RespDecoder {
  readonly #options: RespDecoderOptions;
  readonly #onReply: (value: RespValue) => void;
  readonly #returnBuffers: (() => boolean) | undefined;
  readonly #text: DecodeUtf8;
  readonly #maxBulk: number;
  readonly #maxAggregate: number;
  readonly #maxDepth: number;
  #buf: Uint8Array = EMPTY;
  #pos = 0;
  readonly #stack: Frame[] = [];
  #binary = false;
  // A blob larger than what has arrived: its pieces, and its whole length with CRLF.
  #bulkParts: Uint8Array[] | undefined;
  #bulkWhole: Uint8Array | undefined;
  #bulkLength = 0;
  #bulkFilled = 0;
  #bulkType = 0;
  // A value line longer than LINE_IN_BUFFER whose CRLF has not arrived: its pieces (after the type byte).
  #lineParts: Uint8Array[] | undefined;
  #lineLength = 0;
  #lineType = 0;
  #failed: Error | undefined;

  constructor(options: RespDecoderOptions) {
    this.#options = options;
    this.#onReply = options.onReply;
    this.#returnBuffers = options.returnBuffers;
    this.#text = options.decodeUtf8 ?? decodeUtf8;
    this.#maxBulk = checkLimit(
      options.maxBulkLength,
      RESP_DEFAULT_LIMITS.maxBulkLength,
      RESP_MAX_BULK_LENGTH,
      "maxBulkLength",
    );
    this.#maxAggregate = checkLimit(
      options.maxAggregateLength,
      RESP_DEFAULT_LIMITS.maxAggregateLength,
      2 ** 32,
      "maxAggregateLength",
    );
    this.#maxDepth = checkLimit(options.maxDepth, RESP_DEFAULT_LIMITS.maxDepth, 1024, "maxDepth");
  }

  /** True when no reply is partly decoded. */
  get idle(): boolean {
    return (
      this.#pos >= this.#buf.length &&
      this.#stack.length === 0 &&
      this.#bulkParts === undefined &&
      this.#lineParts === undefined
    );
  }

  /** Decodes `chunk`, calling back for each reply it completes. Throws on a protocol error. */
  feed(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    if (this.#pos < this.#buf.length) {
      const rest = this.#buf.length - this.#pos;
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.#buf.subarray(this.#pos), 0);
      joined.set(chunk, rest);
      this.#buf = joined;
    } else {
      this.#buf = chunk;
    }
    this.#pos = 0;
    try {
      this.#run();
    } catch (error) {
      this.#failed = error as Error;
      this.#buf = EMPTY;
      this.#pos = 0;
      this.#stack.length = 0;
      this.#bulkParts = undefined;
      this.#bulkWhole = undefined;
      this.#lineParts = undefined;
      throw error;
    }
    if (this.#pos >= this.#buf.length) {
      this.#buf = EMPTY;
      this.#pos = 0;
    }
  }

  #run(): void {
    if (this.#bulkParts !== undefined && !this.#continueBulk()) return;
    if (this.#lineParts !== undefined && !this.#continueLine()) return;
    const buf = this.#buf;
    const len = buf.length;
    while (this.#pos < len) {
      const start = this.#pos;
      const type = buf[start]!;
      // A push frame (pub/sub, invalidation) is never the waiting command's reply: always text.
      if (this.#stack.length === 0)
        this.#binary = type !== 62 && this.#returnBuffers !== undefined && this.#returnBuffers();
      let cr: number;
      // The line's number (an integer, a length or a count), and how many digits it has.
      let n = 0;
      let digits = 0;
      if (NUMBER_LINE[type] === 1) {
        // Most lines carry a number: read it while looking for the CR, in one pass.
        let i = start + 1;
        const sign = buf[i];
        if (sign === 45 || sign === 43) i++;
        const first = i;
        const stop = Math.min(len, first + 20);
        for (; i < stop; i++) {
          const digit = buf[i]! - 48;
          if (digit < 0 || digit > 9) break;
          n = n * 10 + digit;
        }
        if (i >= len) return; // the rest of the line has not arrived
        digits = i - first;
        if (buf[i] !== CR || digits === 0)
          throw new ProtocolError(type === 58 ? "invalid RESP integer" : "invalid RESP length");
        if (sign === 45 && n !== 0) n = -n;
        cr = i;
        if (digits > 15 && type !== 58) {
          // No length or count this long fits any limit: report it as sent, not as a rounded double.
          const sent = decodeUtf8(buf, start + 1, cr);
          if (sign === 45) throw new ProtocolError(`invalid RESP length ${sent}`);
          const blob = type === 36 || type === 33 || type === 61;
          throw new TooLargeError(
            `a RESP ${blob ? "blob string" : "aggregate"} of ${sent} bytes or elements is over the limit`,
            blob ? this.#maxBulk : this.#maxAggregate,
          );
        }
      } else {
        if (VALUE_LINE[type] !== 1)
          throw new ProtocolError(`unknown RESP type byte 0x${type.toString(16).padStart(2, "0")}`);
        cr = findCR(buf, start + 1);
        if (cr === -1) {
          if (len - start > LINE_IN_BUFFER) this.#startLine(type, buf, start + 1);
          return; // the rest of the line has not arrived
        }
        if (cr - start - 1 > this.#maxBulk) throw this.#lineTooLong(cr - start - 1);
      }
      if (cr + 1 >= len) return; // its LF has not arrived
      if (buf[cr + 1] !== LF) throw new ProtocolError("a RESP line ends in CR without LF");
      const lineStart = start + 1;
      this.#pos = cr + 2;
      switch (type) {
        case 43: // + simple string
        case 45: // - simple error
          this.#line(type, buf, lineStart, cr);
          break;
        case 58: // : integer
          // Past 15 digits a double may round: parse again, exactly (a bigint past 2^53).
          this.#value(digits > 15 ? parseInteger(buf, lineStart, cr) : n);
          break;
        case 36: // $ blob string
        case 33: // ! blob error
        case 61: {
          // = verbatim string
          const length = checkLength(n, this.#maxBulk, "blob string");
          if (length === -1) {
            if (type !== 36) throw new ProtocolError("a null length is only allowed for a RESP2 blob string");
            this.#value(null);
            break;
          }
          const end = this.#pos + length;
          if (end + 2 <= buf.length) {
            if (buf[end] !== CR || buf[end + 1] !== LF)
              throw new ProtocolError("a blob string is not followed by CRLF");
            this.#pos = end + 2;
            this.#value(this.#blob(type, buf, this.#pos - length - 2, end));
          } else {
            // A blob up to 8 MiB gets its whole buffer now and each piece is copied
            // in once; a larger one keeps its pieces as they arrive, so memory follows
            // the bytes received, not the length a header claims.
            this.#bulkLength = length + 2;
            if (this.#bulkLength <= PREALLOCATE_BULK) {
              this.#bulkWhole = new Uint8Array(this.#bulkLength);
              this.#bulkWhole.set(buf.subarray(this.#pos));
              this.#bulkParts = [];
            } else {
              this.#bulkParts = [buf.slice(this.#pos)];
            }
            this.#bulkType = type;
            this.#bulkFilled = buf.length - this.#pos;
            this.#pos = buf.length;
            return;
          }
          break;
        }
        case 42: // * array
        case 126: // ~ set
        case 62: // > push
        case 37: // % map
        case 124: {
          // | attribute
          const pairs = type === 37 || type === 124;
          const count = checkLength(n, pairs ? this.#maxAggregate / 2 : this.#maxAggregate, "aggregate");
          if (count === -1) {
            if (type !== 42) throw new ProtocolError("a null length is only allowed for a RESP2 array");
            this.#value(null);
          } else this.#aggregate(type, pairs ? count * 2 : count);
          break;
        }
        case 95: // _ null
        case 35: // # boolean
        case 44: // , double
        case 40: // ( big number
          this.#line(type, buf, lineStart, cr);
          break;
        default:
          throw new ProtocolError(`unknown RESP type byte 0x${type.toString(16).padStart(2, "0")}`);
      }
    }
  }

  /** The value a line carries (its bytes from `start` to its CR): every type but the numbers'. */
  #line(type: number, buf: Uint8Array, start: number, cr: number): void {
    switch (type) {
      case 43: // + simple string
        this.#value(cr - start <= SHORT_TEXT ? shortText(buf, start, cr) : this.#text(buf, start, cr));
        return;
      case 45: // - simple error
        this.#value(new ReplyError(this.#text(buf, start, cr)));
        return;
      case 95: // _ null
        if (cr !== start) throw new ProtocolError("a RESP3 null carries no data");
        this.#value(null);
        return;
      case 35: {
        // # boolean
        const flag = cr === start + 1 ? buf[start] : 0;
        if (flag !== 116 && flag !== 102) throw new ProtocolError("a RESP3 boolean is #t or #f");
        this.#value(flag === 116);
        return;
      }
      case 44: // , double
        this.#value(parseDouble(this.#text(buf, start, cr)));
        return;
      default: {
        // ( big number
        const text = this.#text(buf, start, cr);
        if (!/^[-+]?\d+$/.test(text)) throw new ProtocolError(`invalid RESP3 big number "${text.slice(0, 40)}"`);
        this.#value(BigInt(text));
      }
    }
  }

  /** A long line without its CRLF yet: its bytes so far (from `from`) become the first piece. */
  #startLine(type: number, buf: Uint8Array, from: number): void {
    this.#lineType = type;
    this.#lineParts = [];
    this.#lineLength = 0;
    this.#addToLine(buf, from, buf.length);
    this.#pos = buf.length;
  }

  #addToLine(buf: Uint8Array, from: number, to: number): void {
    if (to === from) return;
    this.#lineLength += to - from;
    if (this.#lineLength > this.#maxBulk) throw this.#lineTooLong(this.#lineLength);
    this.#lineParts!.push(buf.slice(from, to));
  }

  /** Collects arriving bytes of a pending long line; true once its CRLF came and its value is out. */
  #continueLine(): boolean {
    const buf = this.#buf;
    const from = this.#pos;
    const cr = buf.indexOf(CR, from);
    if (cr === -1) {
      this.#addToLine(buf, from, buf.length);
      this.#pos = buf.length;
      return false;
    }
    this.#addToLine(buf, from, cr);
    if (cr + 1 >= buf.length) {
      this.#pos = cr; // the CR waits in the buffer for its LF
      return false;
    }
    if (buf[cr + 1] !== LF) throw new ProtocolError("a RESP line ends in CR without LF");
    const line = concat(this.#lineParts!, this.#lineLength);
    this.#lineParts = undefined;
    this.#pos = cr + 2;
    this.#line(this.#lineType, line, 0, line.length);
    return true;
  }

  #lineTooLong(length: number): TooLargeError {
    return new TooLargeError(
      `a RESP line of ${length} bytes or more is over the limit of ${this.#maxBulk} (maxBulkLength)`,
      this.#maxBulk,
    );
  }

  /** Collects arriving bytes of a pending blob; true once it is complete. */
  #continueBulk(): boolean {
    const parts = this.#bulkParts!;
    const whole = this.#bulkWhole;
    const take = Math.min(this.#bulkLength - this.#bulkFilled, this.#buf.length - this.#pos);
    if (take > 0) {
      if (whole) whole.set(this.#buf.subarray(this.#pos, this.#pos + take), this.#bulkFilled);
      else parts.push(this.#buf.slice(this.#pos, this.#pos + take));
    }
    this.#bulkFilled += take;
    this.#pos += take;
    if (this.#bulkFilled < this.#bulkLength) return false;
    this.#bulkParts = undefined;
    this.#bulkWhole = undefined;
    const bulk = whole ?? concat(parts, this.#bulkLength);
    const end = bulk.length - 2;
    if (bulk[end] !== CR || bulk[end + 1] !== LF) throw new ProtocolError("a blob string is not followed by CRLF");
    this.#value(this.#blob(this.#bulkType, bulk, 0, end));
    return true;
  }

  #blob(type: number, buf: Uint8Array, start: number, end: number): RespValue {
    if (type === 33) return new ReplyError(this.#text(buf, start, end));
    if (type === 61) {
      // Verbatim: a three-letter format and ":" before the text.
      if (end - start < 4 || buf[start + 3] !== 58)
        throw new ProtocolError("a verbatim string lacks its format prefix");
      start += 4;
    }
    if (this.#binary) return new Uint8Array(buf.subarray(start, end)); // a plain copy, whatever the input's class
    // The runtime's decoder is called from here directly, where the JIT can inline it.
    return end - start <= SHORT_TEXT ? shortText(buf, start, end) : this.#text(buf, start, end);
  }

  #aggregate(type: number, count: number): void {
    if (this.#stack.length >= this.#maxDepth) {
      throw new TooLargeError(`RESP aggregates nest deeper than the limit of ${this.#maxDepth}`, this.#maxDepth);
    }
    if (count === 0) {
      this.#finish({ type, remaining: 0, items: [] });
      return;
    }
    this.#stack.push({ type, remaining: count, items: [] });
  }

  #finish(frame: Frame): void {
    const { type, items } = frame;
    if (type === 124) {
      // Attributes describe the value that follows; they are not an element themselves.
      this.#options.onAttributes?.(toMap(items));
      return;
    }
    if (type === 62 && this.#stack.length === 0 && this.#options.onPush) {
      this.#options.onPush(items);
      return;
    }
    this.#value(type === 37 ? toMap(items) : type === 126 ? new Set(items) : items);
  }

  #value(value: RespValue): void {
    const depth = this.#stack.length;
    if (depth === 0) {
      this.#onReply(value);
      return;
    }
    const top = this.#stack[depth - 1]!;
    top.items.push(value);
    if (--top.remaining === 0) {
      this.#stack.pop();
      this.#finish(top);
    }
  }
}

/** A length or count read from its line: -1 (null) or up to `max`. */
function checkLength(n: number, max: number, what: string): number {
  if (n < -1) throw new ProtocolError(`invalid ${what} length`);
  if (n > max)
    throw new TooLargeError(`a ${what} of ${n} elements or bytes is over the limit of ${Math.floor(max)}`, max);
  return n;
}

/** The next CR at or after `from`, or -1. Headers are short: a loop beats indexOf's call there. */
function findCR(buf: Uint8Array, from: number): number {
  const stop = Math.min(buf.length, from + 24);
  for (let i = from; i < stop; i++) if (buf[i] === CR) return i;
  return stop === buf.length ? -1 : buf.indexOf(CR, stop);
}

function toMap(items: RespValue[]): Map<RespValue, RespValue> {
  const map = new Map<RespValue, RespValue>();
  for (let i = 0; i < items.length; i += 2) map.set(items[i]!, items[i + 1]!);
  return map;
}

/** A RESP integer: `number` when exact, `bigint` beyond ±2^53. */
function parseInteger(buf: Uint8Array, start: number, end: number): number | bigint {
  let i = start;
  let negative = false;
  if (buf[i] === 45 || buf[i] === 43) {
    negative = buf[i] === 45;
    i++;
  }
  if (i >= end || end - i > 20) throw new ProtocolError("invalid RESP integer");
  let n = 0;
  for (let j = i; j < end; j++) {
    const digit = buf[j]! - 48;
    if (digit < 0 || digit > 9) throw new ProtocolError("invalid RESP integer");
    n = n * 10 + digit;
  }
  if (n <= Number.MAX_SAFE_INTEGER) return negative ? -n : n;
  let big = 0n;
  for (let j = i; j < end; j++) big = big * 10n + BigInt(buf[j]! - 48);
  return negative ? -big : big;
}

// Redis before 7.2 printed doubles with libc, whose NaN and infinity spellings vary (RESP3.md asks
// clients to take them all): "nan", "-nan", "NAN", "nan(0x7ff8…)", "inf", "INF", "infinity".
const NAN = /^[-+]?nan(?:\([0-9A-Za-z_]*\))?$/i;
const INFINITY = /^([-+]?)inf(?:inity)?$/i;

function parseDouble(text: string): number {
  if (NAN.test(text)) return Number.NaN;
  const infinity = INFINITY.exec(text);
  if (infinity) return infinity[1] === "-" ? -Infinity : Infinity;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text))
    throw new ProtocolError(`invalid RESP3 double "${text.slice(0, 40)}"`);
  return Number(text);
}

function checkLimit(value: number | undefined, fallback: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new TypeError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}
