// The socket's readable side: the stream class and the helpers that feed and end it (shared with
// @sockkit/adapter-node, whose Node chunks need their own ownedView).

/**
 * The socket's readable. As in workerd, once close() has cancelled it, reads reject but `cancel()`
 * (on the stream or a reader from getReader()) resolves; a standard errored stream would reject
 * both, and clients that cancel after closing (redis-on-workers does) would meet an error.
 */
export class SocketReadable extends ReadableStream<Uint8Array> {
  /** The error close() ended the stream with. */
  closeError: TypeError | undefined;

  constructor(source: UnderlyingByteSource, strategy: { highWaterMark?: number }) {
    super(source as UnderlyingSource<Uint8Array>, strategy);
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
 * A plain Uint8Array the stream may transfer: a chunk that is a view into a larger buffer (a runtime's
 * pool) is copied, as transferring it would detach the rest; another typed array class is re-viewed.
 */
export function ownedView(chunk: Uint8Array): Uint8Array<ArrayBuffer> {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) {
    return Object.getPrototypeOf(chunk) === Uint8Array.prototype
      ? (chunk as Uint8Array<ArrayBuffer>)
      : new Uint8Array(buffer, 0, chunk.byteLength);
  }
  return new Uint8Array(chunk);
}
