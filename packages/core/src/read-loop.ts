/**
 * A connection's read loop: each chunk goes to `onChunk` until the stream ends or `stopped()` says
 * its owner moved on (checked after every read and chunk). `beforeRead`, if it returns a promise,
 * is waited on first: a client stops reading while its own output is backed up. Resolves true at
 * the end of the stream, false when stopped; rejects with a read's or `onChunk`'s error. The
 * reader's lock is released either way (workerd refuses while a read is pending: the socket is
 * being closed then anyway).
 */
export async function readLoop(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
  stopped: () => boolean,
  beforeRead?: () => Promise<void> | undefined,
): Promise<boolean> {
  try {
    for (;;) {
      if (beforeRead) {
        for (let wait = beforeRead(); wait !== undefined && !stopped(); wait = beforeRead()) await wait;
      }
      if (stopped()) return false;
      const { done, value } = await reader.read();
      if (done) return true;
      if (stopped()) return false;
      onChunk(value);
    }
  } finally {
    try {
      reader.releaseLock();
    } catch {
      // a read still pending (workerd): the socket is closing anyway
    }
  }
}
