import { describeAddress } from "./address.js";
import { connectWithTimeout } from "./connect-with-timeout.js";
import { TimeoutError, TooLargeError, TruncatedError } from "./errors.js";
import { FramedReader } from "./framed-reader.js";
import { readAll } from "./read-all.js";
import { onAbort, timer } from "./timer.js";
import type { Connect, SocketAddress, SocketOptions } from "./types.js";

/**
 * How the reply ends:
 * - `"eof"`: the peer closes its side (cannot tell a reset from a clean end in workerd);
 * - `{ delimiter }`: up to and including the delimiter (returned without it);
 * - `{ lengthPrefix }`: a big-endian unsigned length of 1, 2 or 4 bytes, then that many bytes (returned without the prefix);
 * - a function given everything received so far, returning the reply's full
 *   length once it is complete, or `undefined` to keep reading.
 */
export type ReplyFraming =
  | "eof"
  | { delimiter: string | Uint8Array }
  | { lengthPrefix: 1 | 2 | 4 }
  | ((received: Uint8Array) => number | undefined);

/** Options for {@link requestResponse}. */
export interface RequestResponseOptions {
  /** How the reply ends. @default "eof" */
  until?: ReplyFraming;
  /** The most reply bytes to accept (`TooLargeError`, `code: "ETOOLARGE"`). @default 8388608 (8 MiB) */
  maxBytes?: number;
  /** Deadline for the whole exchange: connect, write and read (`TimeoutError`, `code: "ETIMEDOUT"`). @default 30000 */
  timeoutMs?: number;
  /** Aborting closes the socket and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Passed to `connect`. */
  options?: SocketOptions;
  /** Half-close after writing the request. @default true for `until: "eof"`, false otherwise */
  halfClose?: boolean;
}

const encoder = new TextEncoder();

/**
 * Connects, writes `request`, reads one complete reply and closes the socket
 * (always, also on error). A reply may span any number of chunks.
 */
export async function requestResponse(
  connect: Connect,
  address: string | SocketAddress,
  request: Uint8Array | string,
  {
    until = "eof",
    maxBytes = 8 * 1024 * 1024,
    timeoutMs = 30_000,
    signal,
    options,
    halfClose,
  }: RequestResponseOptions = {},
): Promise<Uint8Array> {
  signal?.throwIfAborted();
  const bytes = typeof request === "string" ? encoder.encode(request) : request;
  // One controller for the whole exchange: the caller's abort or our deadline.
  const exchange = new AbortController();
  const stopListening = onAbort(signal, () => exchange.abort(signal!.reason));
  const deadline = timer(timeoutMs, () =>
    exchange.abort(
      new TimeoutError(`request to ${describeAddress(address)} took longer than ${timeoutMs} ms`, timeoutMs),
    ),
  );
  deadline.start();
  let socket: Awaited<ReturnType<typeof connectWithTimeout>> | undefined;
  try {
    socket = await connectWithTimeout(connect, address, options, { timeoutMs, signal: exchange.signal });
    const opened = socket;
    const writer = socket.writable.getWriter();
    // On abort or deadline: fail a write the peer is blocking, then close.
    const stopClosing = onAbort(exchange.signal, () => {
      writer.abort(exchange.signal.reason).catch(() => {});
      opened.close().catch(() => {});
    });
    try {
      await writer.write(bytes);
      if (halfClose ?? until === "eof") await writer.close();
      writer.releaseLock();
      if (until === "eof") return await readAll(socket, { maxBytes, signal: exchange.signal });
      return await readFramed(new FramedReader(socket.readable, { maxBytes }), until, maxBytes);
    } catch (error) {
      exchange.signal.throwIfAborted();
      throw error;
    } finally {
      stopClosing();
    }
  } finally {
    deadline.cancel();
    stopListening();
    await socket?.close().catch(() => {});
  }
}

async function readFramed(
  reader: FramedReader,
  until: Exclude<ReplyFraming, "eof">,
  maxBytes: number,
): Promise<Uint8Array> {
  try {
    if (typeof until === "function") return await readByFunction(reader, until, maxBytes);
    if ("delimiter" in until) return await reader.readUntil(until.delimiter, { maxBytes });
    const size = until.lengthPrefix;
    if (size !== 1 && size !== 2 && size !== 4)
      throw new TypeError(`lengthPrefix must be 1, 2 or 4, got ${String(size)}`);
    const header = await reader.readExactly(size);
    const length = new DataView(header.buffer, header.byteOffset, size)[
      size === 1 ? "getUint8" : size === 2 ? "getUint16" : "getUint32"
    ](0);
    if (length > maxBytes) throw new TooLargeError(`reply length ${length} exceeds maxBytes (${maxBytes})`, maxBytes);
    return await reader.readExactly(length);
  } finally {
    reader.release();
  }
}

async function readByFunction(
  reader: FramedReader,
  complete: (received: Uint8Array) => number | undefined,
  maxBytes: number,
): Promise<Uint8Array> {
  let storage = new Uint8Array(0);
  let received: Uint8Array = storage;
  for (;;) {
    const length = complete(received);
    if (length !== undefined) {
      if (!Number.isInteger(length) || length < 0 || length > received.length) {
        throw new TypeError(`the framing function returned ${length} for ${received.length} received bytes`);
      }
      return received.subarray(0, length);
    }
    if (received.length > maxBytes) throw new TooLargeError(`reply exceeds maxBytes (${maxBytes})`, maxBytes);
    const chunk = await reader.read();
    if (!chunk) {
      throw new TruncatedError(
        `stream ended after ${received.length} bytes before the reply was complete`,
        received.length,
      );
    }
    // Grow by doubling, so many small chunks do not cost a copy each.
    const total = received.length + chunk.length;
    if (total > storage.length) {
      const grown = new Uint8Array(Math.max(total, storage.length * 2, 1024));
      grown.set(received);
      storage = grown;
    }
    storage.set(chunk, received.length);
    received = storage.subarray(0, total);
  }
}
