// The socket's readable side: the stream class and the helpers that feed and end it.

/**
 * The socket's readable. As in workerd, once close() has cancelled it, reads reject but
 * `cancel()` (on the stream or a reader from getReader()) resolves; a standard errored stream
 * would reject both, and clients that cancel after closing (redis-on-workers does) would meet an
 * error. A reader built with `new ReadableStreamDefaultReader(readable)` is not covered.
 */
export class SocketReadable extends ReadableStream<Uint8Array> {
  /** The error close() ended the stream with. */
  closeError: TypeError | undefined;

  constructor(source: UnderlyingByteSource, strategy: { highWaterMark?: number }) {
    super(source as UnderlyingSource<Uint8Array>, strategy); // the byte-source overload is typed for ReadableStream<Uint8Array<ArrayBuffer>>
  }

  override cancel(reason?: unknown): Promise<void> {
    return this.#unlessClosed(super.cancel(reason));
  }

  override getReader(options?: { mode?: "byob" }): never {
    const reader = super.getReader(options as { mode: "byob" });
    const cancel = reader.cancel.bind(reader);
    reader.cancel = (reason?: unknown) => this.#unlessClosed(cancel(reason));
    return reader as never;
  }

  #unlessClosed(cancelled: Promise<void>): Promise<void> {
    return cancelled.catch((error: unknown) => {
      if (error === undefined || error !== this.closeError) throw error;
    });
  }
}

export function closeReadable(rc: ReadableByteStreamController): void {
  try {
    rc.close();
    // A pending BYOB read must be answered with zero bytes after close().
    rc.byobRequest?.respond(0);
  } catch {
    // already closed or errored
  }
}

/**
 * A plain Uint8Array the stream may transfer. Node hands out some chunks as
 * views into a shared pool; transferring those would detach other data.
 */
export function ownedView(chunk: Buffer): Uint8Array<ArrayBuffer> {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) {
    // The stream transfers the buffer and hands the reader a plain Uint8Array over it.
    return chunk as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(chunk);
}
