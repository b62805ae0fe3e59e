import { TooLargeError, TruncatedError } from "./errors.js";
import { decodeUtf8 } from "./text.js";

/** Options for {@link FramedReader}. */
export interface FramedReaderOptions {
  /**
   * Default limit for `readUntil()` and `readLine()`: the most bytes a frame
   * may hold before its delimiter.
   * @default 65536
   */
  maxBytes?: number;
}

/** Options for {@link FramedReader.readUntil} and {@link FramedReader.readLine}. */
export interface ReadUntilOptions {
  /** Most bytes before the delimiter. @default the reader's `maxBytes` */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024;
const encoder = new TextEncoder();

/**
 * A buffered reader for framed protocols over a `ReadableStream<Uint8Array>`.
 * Bytes that arrive past a frame stay buffered for the next read; a frame may
 * be split at any byte. EOF inside a frame rejects with a `TruncatedError`
 * (`code: "ETRUNCATED"`), never a short result.
 *
 * Call {@link release} when done: it frees the stream's lock and hands back
 * the bytes read from the stream but not consumed.
 */
export class FramedReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #maxBytes: number;
  // Unconsumed bytes live in #buf[#start, #end).
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #eof = false;
  #released = false;
  // Whether #buf was allocated here (and so may be written into).
  #ownsBuffer = false;

  constructor(readable: ReadableStream<Uint8Array>, options: FramedReaderOptions = {}) {
    this.#maxBytes = checkLimit(options.maxBytes ?? DEFAULT_MAX_BYTES, "maxBytes");
    this.#reader = readable.getReader();
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Reads exactly `n` bytes. */
  async readExactly(n: number): Promise<Uint8Array> {
    if (!Number.isInteger(n) || n < 0)
      throw new TypeError(`readExactly(n): n must be a non-negative integer, got ${n}`);
    while (this.buffered < n) {
      if (!(await this.#fill())) {
        throw new TruncatedError(`stream ended after ${this.buffered} of ${n} bytes`, this.buffered);
      }
    }
    return this.#take(n, 0);
  }

  /**
   * Reads up to and including `delimiter`; returns the bytes before it (the
   * delimiter is consumed). Rejects with `TooLargeError` once more than
   * `maxBytes` bytes arrived without the delimiter.
   */
  async readUntil(delimiter: Uint8Array | string, options: ReadUntilOptions = {}): Promise<Uint8Array> {
    const needle = typeof delimiter === "string" ? encoder.encode(delimiter) : delimiter;
    if (needle.length === 0) throw new TypeError("readUntil(delimiter): the delimiter must not be empty");
    const maxBytes = checkLimit(options.maxBytes ?? this.#maxBytes, "maxBytes");
    let searched = 0; // bytes already known not to start the delimiter
    for (;;) {
      const at = indexOf(this.#buf, needle, this.#start + searched, this.#end);
      if (at >= 0) {
        const frameLength = at - this.#start;
        if (frameLength > maxBytes) throw this.#tooLarge(maxBytes);
        return this.#take(frameLength, needle.length);
      }
      searched = Math.max(0, this.buffered - needle.length + 1);
      if (searched > maxBytes) throw this.#tooLarge(maxBytes);
      if (!(await this.#fill())) {
        throw new TruncatedError(`stream ended after ${this.buffered} bytes without the delimiter`, this.buffered);
      }
    }
  }

  /** Reads one line ending in `\n` or `\r\n` and decodes it as UTF-8, without the line ending. */
  async readLine(options: ReadUntilOptions = {}): Promise<string> {
    const line = await this.readUntil("\n", options);
    const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
    return decodeUtf8(line, 0, end); // a leading U+FEFF is kept: it is the line's data
  }

  /**
   * Next bytes: what is buffered, else the next chunk from the stream;
   * `undefined` at EOF.
   */
  async read(): Promise<Uint8Array | undefined> {
    if (this.buffered === 0 && !(await this.#fill())) return undefined;
    return this.#take(this.buffered, 0);
  }

  /** Releases the stream's lock and returns the bytes buffered but not consumed. */
  release(): Uint8Array {
    if (!this.#released) {
      this.#released = true;
      this.#reader.releaseLock();
    }
    const rest = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end = 0;
    return rest;
  }

  /** Cancels the stream (e.g. after a protocol error) and releases the lock. */
  async cancel(reason?: unknown): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      await this.#reader.cancel(reason);
    } finally {
      this.#reader.releaseLock();
    }
  }

  /** Appends the next chunk; false at EOF. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#released) throw new TypeError("the FramedReader was released");
    const { done, value } = await this.#reader.read();
    if (done) {
      this.#eof = true;
      return false;
    }
    this.#append(value);
    return true;
  }

  #append(chunk: Uint8Array): void {
    const size = this.buffered;
    if (size === 0) {
      // Nothing pending: use the chunk as the buffer, no copy.
      this.#buf = chunk;
      this.#ownsBuffer = false;
      this.#start = 0;
      this.#end = chunk.length;
      return;
    }
    if (this.#buf.length - this.#end >= chunk.length && this.#ownsBuffer) {
      this.#buf.set(chunk, this.#end);
      this.#end += chunk.length;
      return;
    }
    const next = new Uint8Array(Math.max(size + chunk.length, size * 2));
    next.set(this.#buf.subarray(this.#start, this.#end), 0);
    next.set(chunk, size);
    this.#buf = next;
    this.#ownsBuffer = true;
    this.#start = 0;
    this.#end = size + chunk.length;
  }

  #take(length: number, skip: number): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#start + length);
    this.#start += length + skip;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (!this.#ownsBuffer) this.#buf = new Uint8Array(0);
    }
    return out;
  }

  #tooLarge(maxBytes: number): TooLargeError {
    return new TooLargeError(`frame exceeds maxBytes (${maxBytes}) before its delimiter`, maxBytes);
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const first = needle[0]!;
  const last = to - needle.length;
  for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function checkLimit(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new TypeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}
