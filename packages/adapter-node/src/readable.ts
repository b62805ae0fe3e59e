// The socket's readable side: the stream class and closeReadable are core's (@sockkit/core/transport);
// Node's chunks need their own ownedView.
export { closeReadable, SocketReadable } from "@sockkit/core/transport";

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
