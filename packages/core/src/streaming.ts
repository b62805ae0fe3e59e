import type { SocketLike } from "./types.js";

const noop = () => {};

/**
 * Streams a socket's bytes into an HTTP `Response` (the "proxy socket data
 * straight to the client" pattern). The socket is closed when the data ends,
 * when reading fails, and when the HTTP client goes away (the body is cancelled).
 */
export function toResponse(socket: SocketLike, init?: ResponseInit): Response {
  const reader = socket.readable.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (!done) return controller.enqueue(value);
          controller.close();
          reader.releaseLock();
        } catch (error) {
          controller.error(error);
        }
        await socket.close().catch(noop);
      },
      async cancel(reason) {
        await reader.cancel(reason).catch(noop);
        await socket.close().catch(noop);
      },
    },
    // Pull only when the HTTP side asks: the socket's own backpressure reaches the peer.
    { highWaterMark: 0 },
  );
  return new Response(body, init);
}

/** Options for {@link pipeToSocket}. */
export interface PipeToSocketOptions {
  /** Half-close the socket once the body has been written (the peer sees EOF). @default true */
  halfClose?: boolean;
  /** Aborting stops the copy (and aborts the socket's writable) with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Writes an HTTP request body (or any byte stream) to a socket, with
 * backpressure. `null` (no body) just half-closes when asked to.
 */
export async function pipeToSocket(
  body: ReadableStream<Uint8Array> | null,
  socket: SocketLike,
  { halfClose = true, signal }: PipeToSocketOptions = {},
): Promise<void> {
  if (body === null) {
    if (halfClose) await socket.writable.close();
    return;
  }
  await body.pipeTo(socket.writable, { preventClose: !halfClose, ...(signal ? { signal } : {}) });
}
