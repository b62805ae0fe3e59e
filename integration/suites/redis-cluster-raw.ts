// A bare RESP2 connection to one node, for stating what Redis itself sends (no client logic between):
// the test writes commands and reads each frame the server sends, in order.
import type { Connect } from "@sockkit/core";
import { encodeCommand, RespDecoder, type RedisArgument, type RespValue } from "@sockkit/core/redis";

export interface RawConnection {
  send(args: RedisArgument[]): void;
  /** The next frame the server sent (waits up to 5 s for it). */
  next(): Promise<RespValue>;
  close(): Promise<void>;
}

export async function rawConnection(connect: Connect, port: number): Promise<RawConnection> {
  const socket = connect({ hostname: "127.0.0.1", port });
  const writer = socket.writable.getWriter();
  const frames: RespValue[] = [];
  const waiting: Array<(frame: RespValue) => void> = [];
  const decoder = new RespDecoder({
    onReply: (value) => {
      const waiter = waiting.shift();
      if (waiter) waiter(value);
      else frames.push(value);
    },
  });
  const reading = (async () => {
    for await (const chunk of socket.readable) decoder.feed(chunk);
  })().catch(() => {});
  return {
    send(args) {
      void writer.write(encodeCommand(args)).catch(() => {});
    },
    next() {
      if (frames.length > 0) return Promise.resolve(frames.shift()!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no frame from the server within 5 s")), 5000);
        waiting.push((frame) => {
          clearTimeout(timer);
          resolve(frame);
        });
      });
    },
    async close() {
      writer.releaseLock();
      await socket.close();
      await reading;
    },
  };
}

/** A raw connection that has sent `SSUBSCRIBE channel`. */
export async function rawShardSubscriber(connect: Connect, port: number, channel: string): Promise<RawConnection> {
  const raw = await rawConnection(connect, port);
  raw.send(["SSUBSCRIBE", channel]);
  return raw;
}
