import { concat } from "./bytes.js";
import { TooLargeError } from "./errors.js";
import { onAbort } from "./timer.js";
import type { SocketLike } from "./types.js";

/** Options for {@link readAll}. */
export interface ReadAllOptions {
  /**
   * The most bytes to accept. Past it the socket is closed and the call
   * rejects with `TooLargeError` (`code: "ETOOLARGE"`).
   * @default 8388608 (8 MiB)
   */
  maxBytes?: number;
  /** Aborting closes the socket and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Reads a socket to EOF and returns every byte, bounded by `maxBytes`.
 *
 * A reply framed by EOF alone cannot tell a clean end from a peer reset in
 * workerd (both end the reader with `done`); use a framed protocol (a length
 * prefix or delimiter, see `FramedReader`) where that matters.
 */
export async function readAll(socket: SocketLike, options: ReadAllOptions = {}): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  const { signal } = options;
  signal?.throwIfAborted();
  const reader = socket.readable.getReader();
  // Aborting cancels the read at once (close() alone would first wait to
  // flush writes) and closes the socket; the abort reason is rethrown below.
  const stopListening = onAbort(signal, () => {
    reader.cancel(signal!.reason).catch(() => {});
    socket.close().catch(() => {});
  });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await socket.close().catch(() => {});
        throw new TooLargeError(`reply exceeds maxBytes (${maxBytes})`, maxBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  } finally {
    stopListening();
    reader.releaseLock();
  }
  return concat(chunks, total);
}
