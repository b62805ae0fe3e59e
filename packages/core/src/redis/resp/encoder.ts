import { concat } from "../../bytes.js";

/** One argument of a command. Numbers are sent in their decimal form. */
export type RedisArgument = string | number | bigint | Uint8Array;

const utf8 = new TextEncoder();
// Strings up to this many UTF-16 units are measured in JS and joined into the
// batch's text; longer ones are encoded once, natively, and sent as bytes.
const INLINE_STRING = 4096;

/**
 * Collects commands as RESP arrays of blob strings (never inline commands,
 * so no argument can end one command and start another) and hands them out
 * as one `Uint8Array`. Lengths are counted in bytes.
 */
export class CommandBatch {
  #text = "";
  #parts: Uint8Array[] = [];
  #size = 0;
  #count = 0;

  /** Commands added since the last {@link take}. */
  get count(): number {
    return this.#count;
  }

  /** Appends one command. Throws a `TypeError` for an argument that is not a string, number, bigint or Uint8Array. */
  add(args: readonly RedisArgument[]): void {
    // Validate first, so a bad argument leaves the batch as it was.
    for (let i = 0; i < args.length; i++) checkArgument(args[i], i);
    let text = `*${args.length}\r\n`;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (typeof arg === "string") {
        if (arg.length <= INLINE_STRING) {
          text += `$${utf8Length(arg)}\r\n${arg}\r\n`;
          continue;
        }
        const bytes = utf8.encode(arg);
        text += `$${bytes.length}\r\n`;
        this.#flushText(text);
        this.#push(bytes);
        text = "\r\n";
      } else if (typeof arg === "number" || typeof arg === "bigint") {
        const digits = formatNumber(arg);
        text += `$${digits.length}\r\n${digits}\r\n`;
      } else {
        text += `$${arg.length}\r\n`;
        this.#flushText(text);
        this.#push(arg);
        text = "\r\n";
      }
    }
    this.#text += text;
    this.#count++;
  }

  /** Appends the bytes of another batch's {@link take} (holding `count` commands). */
  append(bytes: Uint8Array, count: number): void {
    if (bytes.length === 0) return;
    this.#flushText("");
    this.#push(bytes);
    this.#count += count;
  }

  /** The commands added so far as one byte array; the batch is empty afterwards. */
  take(): Uint8Array {
    this.#flushText("");
    const parts = this.#parts;
    const out = concat(parts, this.#size);
    this.#parts = [];
    this.#size = 0;
    this.#count = 0;
    return out;
  }

  #flushText(tail: string): void {
    const text = this.#text + tail;
    this.#text = "";
    if (text.length > 0) this.#push(utf8.encode(text));
  }

  #push(bytes: Uint8Array): void {
    this.#parts.push(bytes);
    this.#size += bytes.length;
  }
}

/** Encodes one command on its own. */
export function encodeCommand(args: readonly RedisArgument[]): Uint8Array {
  const batch = new CommandBatch();
  batch.add(args);
  return batch.take();
}

function checkArgument(arg: unknown, index: number): void {
  const type = typeof arg;
  if (type === "string" || type === "bigint" || arg instanceof Uint8Array) return;
  if (type === "number") {
    if (Number.isNaN(arg)) throw new TypeError(`argument ${index} is NaN, which Redis cannot take as a number`);
    return;
  }
  throw new TypeError(
    `argument ${index} must be a string, number, bigint or Uint8Array, got ${arg === null ? "null" : type}`,
  );
}

/** A number argument as it goes on the wire (and so as a key is hashed to its slot). */
export function formatNumber(n: number | bigint): string {
  // Integers exactly; other numbers in the shortest form that reads back the
  // same; infinities as Redis spells them (sorted-set scores, ranges).
  if (typeof n === "bigint" || Number.isInteger(n)) return BigInt(n).toString();
  if (n === Infinity) return "+inf";
  if (n === -Infinity) return "-inf";
  return String(n);
}

/** UTF-8 length of a string, counting a lone surrogate as TextEncoder does (U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 4 bytes for 2 units
      i++;
    } else n += 2;
  }
  return n;
}
