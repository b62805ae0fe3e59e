/**
 * The socket behaviour suite: written once, run inside workerd against the
 * real `cloudflare:sockets` and on Node, Bun and Deno against @sockkit/adapter-node.
 * Where a connect differs on purpose, a trait (suites/runtimes.ts) says so and why.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Connect, SocketLike } from "@sockkit/core";
import { controlCommand } from "../harness/shared/control-client.js";
import { rejection, settledWithin } from "../harness/shared/promises.js";
import type { ControlStats, SocketTestEnv } from "../harness/node/servers.js";
import type { ConnectTraits, RuntimeName } from "./runtimes.js";
import { tlsConformance, type TlsFlags } from "./socket-tls-conformance.js";

export interface ConformanceOptions {
  runtime: RuntimeName;
  /** What `connect` does differently on purpose. */
  traits: ConnectTraits;
  connect: Connect;
  env: SocketTestEnv;
  /** Where this runtime's TLS differs from workerd's on purpose (see socket-tls-conformance.ts). */
  tls?: TlsFlags;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (text: string) => enc.encode(text);

async function readText(readable: ReadableStream<Uint8Array>, limit = Infinity): Promise<string> {
  const reader = readable.getReader();
  let text = "";
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}

export function socketConformance({ runtime, traits, connect, env, tls }: ConformanceOptions): void {
  const open: SocketLike[] = [];
  const host = "127.0.0.1";
  const at = (port: number) => ({ hostname: host, port });
  const track = (socket: SocketLike) => {
    open.push(socket);
    return socket;
  };
  const dial: Connect = (address, options) => track(connect(address, options));

  const controlStats = (command?: string) => controlCommand(connect, env.control, command);

  // Connections a runtime is known to keep open after the test closed them
  // (each entry says why); the leak check allows exactly these.
  const knownLingering: Record<string, number> = {};
  const leaked = (stats: ControlStats) =>
    Object.entries(stats.open).filter(([name, n]) => n > (knownLingering[name] ?? 0));

  describe(`cloudflare:sockets conformance (${runtime})`, () => {
    // Connections already open when the suite starts (the servers outlive one test run when `npm test`
    // shares them) are not this suite's leaks.
    beforeAll(async () => {
      for (const [name, n] of Object.entries((await controlStats()).open)) {
        knownLingering[name] = (knownLingering[name] ?? 0) + n;
      }
    });

    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((socket) => socket.close()));
      // Leak check from the servers' side: every connection a test opened is gone.
      let stats = await controlStats();
      for (let i = 0; i < 40 && leaked(stats).length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        stats = await controlStats();
      }
      expect(leaked(stats)).toEqual([]);
    });

    describe("addresses and opened", () => {
      it("opened resolves with the address as given, for object and string forms", async () => {
        const a = dial(at(env.echo));
        expect((await a.opened).remoteAddress).toBe(`${host}:${env.echo}`);
        const b = dial(`${host}:${env.echo}`);
        expect((await b.opened).remoteAddress).toBe(`${host}:${env.echo}`);
        expect(a.upgraded).toBe(false);
        expect(a.secureTransport).toBe("off");
      });

      it("connects to an IPv6 literal given as [v6]:port", async () => {
        const socket = dial(`[::1]:${env.echo6}`);
        expect((await socket.opened).remoteAddress).toBe(`[::1]:${env.echo6}`);
        const writer = socket.writable.getWriter();
        await writer.write(bytes("six"));
        await writer.close();
        expect(await readText(socket.readable)).toBe("six");
      });

      it("throws a TypeError synchronously for an invalid port or hostname", () => {
        expect(() => connect(at(70000))).toThrow(TypeError);
        expect(() => connect(at(-1))).toThrow(TypeError);
        expect(() => connect({ hostname: "not a host", port: env.echo })).toThrow(
          /Specified address is empty string, contains unsupported characters or is too long/,
        );
        expect(() => connect(`${"a".repeat(300)}:80`)).toThrow(TypeError);
      });

      it("throws a TypeError for an unknown secureTransport", () => {
        expect(() => connect(at(env.echo), { secureTransport: "maybe" })).toThrow(TypeError);
      });

      it("rejects opened and closed when nothing listens", async () => {
        const socket = dial(at(env.refused));
        const error = await rejection(socket.opened);
        expect(error).toBeInstanceOf(Error);
        expect(String((error as Error).message)).toMatch(/proxy request failed/);
        expect(await rejection(socket.closed)).toBeInstanceOf(Error);
      });

      it("throws a TypeError for a string address without a port, or one that is not an authority", () => {
        expect(() => connect(host)).toThrow(/missing port/);
        expect(() => connect("[::1]")).toThrow(/missing port/);
        expect(() => connect("::1:80")).toThrow(/could not be parsed/);
        expect(() => connect("a:b")).toThrow(TypeError);
      });

      // (No unknown-hostname case: resolving it would send a DNS query off this machine.)
      it("rejects opened (never throws) for port 0, an empty hostname and an unbracketed IPv6 hostname", async () => {
        for (const address of [at(0), { hostname: "", port: env.echo }, { hostname: "::1", port: env.echo6 }]) {
          const socket = dial(address);
          expect(await rejection(socket.opened)).toBeInstanceOf(Error);
        }
      });
    });

    describe("reading and writing", () => {
      it("round-trips bytes, including a 1 MiB write", async () => {
        const socket = dial(at(env.echo));
        const payload = new Uint8Array(1024 * 1024).map((_, i) => i % 253);
        const writer = socket.writable.getWriter();
        const reading = (async () => {
          const reader = socket.readable.getReader();
          const got = new Uint8Array(payload.length);
          let n = 0;
          while (n < payload.length) {
            const { done, value } = await reader.read();
            if (done) break;
            got.set(value, n);
            n += value.byteLength;
          }
          reader.releaseLock();
          return got.subarray(0, n);
        })();
        await writer.write(payload);
        const got = await reading;
        expect(got.length).toBe(payload.length);
        expect(got.every((b, i) => b === payload[i])).toBe(true);
      });

      it("delivers a reply sent one byte at a time, all of it", async () => {
        const socket = dial(at(env.trickle));
        expect(await readText(socket.readable)).toBe(env.trickleText);
      });

      it("reads a 64 MiB payload to the end with every byte intact", async () => {
        const socket = dial(at(env.big));
        const reader = socket.readable.getReader();
        let n = 0;
        let bad = -1;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (let i = 0; i < value.length; i++) {
            if (value[i] !== (n + i) % 251 && bad < 0) bad = n + i;
          }
          n += value.length;
        }
        expect(bad).toBe(-1);
        expect(n).toBe(env.bigSize);
      });

      it("hands out plain Uint8Array chunks", async () => {
        const socket = dial(at(env.echo));
        const writer = socket.writable.getWriter();
        await writer.write(bytes("x"));
        const { value } = await socket.readable.getReader().read();
        expect(value).toBeInstanceOf(Uint8Array);
        expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
      });

      it("supports BYOB readers (the readable is a byte stream)", async () => {
        const socket = dial(at(env.trickle));
        const reader = socket.readable.getReader({ mode: "byob" });
        let text = "";
        for (;;) {
          const { done, value } = await reader.read(new Uint8Array(8));
          if (done) break;
          expect(value.byteLength).toBeLessThanOrEqual(8);
          text += dec.decode(value, { stream: true });
        }
        expect(text).toBe(env.trickleText);
      });

      it("rejects a write that is not bytes with a TypeError, and close() still settles", async () => {
        const socket = dial(at(env.echo));
        await socket.opened;
        const writer = socket.writable.getWriter() as WritableStreamDefaultWriter<unknown>;
        const bad = rejection(writer.write("text"));
        const queued = writer.write(new Uint8Array(10)).catch(() => {});
        expect(await bad).toBeInstanceOf(TypeError);
        await queued;
        expect(await settledWithin(socket.close(), 2000)).toBeUndefined();
      });

      it("a read on a connection that failed ends (done), as workerd cancels the readable", async () => {
        const socket = dial(at(env.refused));
        await rejection(socket.opened);
        const read = await socket.readable
          .getReader()
          .read()
          .then(
            (result) => ({ result }),
            (error: unknown) => ({ error: String(error) }),
          );
        expect(read).toEqual({ result: { done: true, value: undefined } });
      });

      it("a slow reader leaves the peer's output in the kernel, not in memory", async () => {
        const socket = dial(at(env.big));
        await socket.opened;
        // Names this connection for the server's count (other test files use the same server).
        const name = `slow-reader-${Math.random()}`;
        const writer = socket.writable.getWriter();
        await writer.write(bytes(`${name}\n`));
        writer.releaseLock();
        await new Promise((resolve) => setTimeout(resolve, 500));
        const sent = (await controlStats()).bigSent[name];
        expect(sent).toBeGreaterThan(0);
        expect(sent).toBeLessThan(env.bigSize / 4);
        // Reading resumes what was held back: every byte arrives, in order. The reader pauses now
        // and then, so the socket is held back and resumed again and again along the way.
        const reader = socket.readable.getReader();
        let total = 0;
        let wrong = 0;
        for (let pauses = 0; ;) {
          if (total >= pauses * 1024 * 1024) {
            pauses++;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          const { done, value } = await reader.read();
          if (done) break;
          for (
            let i = 0, expected = total % 251;
            i < value.byteLength;
            i++, expected = expected === 250 ? 0 : expected + 1
          )
            if (value[i] !== expected) wrong++;
          total += value.byteLength;
        }
        expect({ total, wrong }).toEqual({ total: env.bigSize, wrong: 0 });
        await socket.close();
      });

      it("highWaterMark sets the writer's desiredSize; the default is 1", async () => {
        const tuned = dial(at(env.echo), { highWaterMark: 1234 });
        expect(tuned.writable.getWriter().desiredSize).toBe(1234);
        const plain = dial(at(env.echo));
        expect(plain.writable.getWriter().desiredSize).toBe(1);
      });

      it("a write to a port nobody listens on settles (workerd may resolve it; the emulation rejects) and opened rejects", async () => {
        const socket = dial(at(env.refused));
        const write = socket.writable
          .getWriter()
          .write(bytes("x"))
          .then(
            () => "resolved",
            (error: unknown) => (error instanceof Error ? "rejected" : "rejected with a non-Error"),
          );
        expect(["resolved", "rejected"]).toContain(await settledWithin(write, 2000));
        if (traits.writeToRefusedRejects) expect(await write).toBe("rejected");
        expect(await rejection(socket.opened)).toBeInstanceOf(Error);
        await socket.close();
      });

      it("abort() on a writer blocked by the peer resolves, and close() then resolves", async () => {
        const socket = dial(at(env.sink));
        const writer = socket.writable.getWriter();
        const chunk = new Uint8Array(1024 * 1024);
        for (let i = 0; i < 256; i++) {
          if ((await settledWithin(writer.write(chunk), 500)) === "pending") break;
        }
        const closing = socket.close();
        expect(await settledWithin(closing, 300)).toBe("pending");
        expect(await settledWithin(writer.abort(new Error("give up")), 2000)).toBeUndefined();
        expect(await settledWithin(closing, 2000)).toBeUndefined();
        // The sink reads nothing, so it would never see our end of the connection.
        await controlStats("drain");
        if (traits.keepsAbortedConnectionOpen) knownLingering.sink = (knownLingering.sink ?? 0) + 1;
      });

      it("writes wait when the peer does not read (backpressure)", async () => {
        const socket = dial(at(env.sink));
        const writer = socket.writable.getWriter();
        const chunk = new Uint8Array(256 * 1024);
        let written = 0;
        let blocked = false;
        while (written < 256 * 1024 * 1024) {
          if ((await settledWithin(writer.write(chunk), 1000)) === "pending") {
            blocked = true;
            break;
          }
          written += chunk.length;
        }
        expect(blocked).toBe(true);
        expect(written).toBeLessThan(256 * 1024 * 1024);
        // close() flushes first (in workerd too), so let the peer read before closing.
        await controlStats("drain");
      });
    });

    describe("half-close and end of stream", () => {
      it("without allowHalfOpen, the peer's EOF closes the write side and resolves closed", async () => {
        const socket = dial(at(env.halfClose));
        expect(await readText(socket.readable)).toBe("hello");
        await socket.closed;
        const error = await rejection(socket.writable.getWriter().write(bytes("late")));
        expect(error).toBeInstanceOf(TypeError);
      });

      it("with allowHalfOpen, writing still works after the peer's EOF and closed waits for close()", async () => {
        const socket = dial(at(env.halfClose), { allowHalfOpen: true });
        expect(await readText(socket.readable)).toBe("hello");
        const token = `after-eof-${Math.random()}`;
        const writer = socket.writable.getWriter();
        await writer.write(bytes(token));
        await writer.close();
        expect(await settledWithin(socket.closed, 300)).toBe("pending");
        let received: string[] = [];
        for (let i = 0; i < 40 && !received.includes(token); i++) {
          received = (await controlStats()).halfCloseReceived;
          if (!received.includes(token)) await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(received).toContain(token);
        await socket.close();
        await socket.closed;
      });

      it("the client's half-close lets the peer answer to the end", async () => {
        const socket = dial(at(env.echo));
        const writer = socket.writable.getWriter();
        await writer.write(bytes("ping"));
        await writer.close();
        expect(await readText(socket.readable)).toBe("ping");
      });

      it("after readable.cancel(), closed waits for close() even once the peer has ended", async () => {
        const socket = dial(at(env.halfClose));
        await socket.opened;
        await socket.readable.cancel();
        expect(await settledWithin(socket.closed, 500)).toBe("pending");
        await socket.close();
        expect(await settledWithin(socket.closed, 2000)).toBeUndefined();
      });

      it("a peer reset ends the reader like EOF and resolves closed", async () => {
        const socket = dial(at(env.reset));
        expect(await readText(socket.readable)).toBe("bye");
        await socket.closed;
      });
    });

    describe("close()", () => {
      it("resolves closed, and a second close() resolves too", async () => {
        const socket = dial(at(env.echo));
        await socket.opened;
        await socket.close();
        expect(await socket.closed).toBeUndefined();
        await socket.close();
      });

      it("repeated close() calls all resolve: workerd gives a new promise each time, the emulation the same one (a listed difference)", async () => {
        const socket = dial(at(env.echo));
        await socket.opened;
        const first = socket.close();
        const second = socket.close();
        await Promise.all([first, second]);
        const third = socket.close();
        await third;
        expect([first === second, first === third]).toEqual(
          traits.closeReturnsSamePromise ? [true, true] : [false, false],
        );
      });

      it("flushes what was written before tearing down", async () => {
        const socket = dial(at(env.halfClose), { allowHalfOpen: true });
        expect(await readText(socket.readable)).toBe("hello");
        const token = `flushed-${Math.random()}`;
        const writer = socket.writable.getWriter();
        void writer.write(bytes(token)).catch(() => {});
        await socket.close();
        let received: string[] = [];
        for (let i = 0; i < 40 && !received.includes(token); i++) {
          received = (await controlStats()).halfCloseReceived;
          if (!received.includes(token)) await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(received).toContain(token);
      });

      it("a read pending when close() is called rejects", async () => {
        const socket = dial(at(env.echo));
        await socket.opened;
        const pending = rejection(socket.readable.getReader().read());
        await socket.close();
        expect(await pending).toBeInstanceOf(Error);
      });

      it("at close(), closed and close() resolve before a pending read rejects", async () => {
        // Clients race `closed` against `read()` to end their read loop (redis-on-workers does);
        // in workerd `closed` wins, so the loop ends without meeting the read's rejection.
        const socket = dial(at(env.echo));
        await socket.opened;
        const order: string[] = [];
        const read = socket.readable.getReader().read();
        const race = Promise.race([socket.closed, read]).then(
          (value) => order.push(`race resolved ${String(value)}`),
          () => order.push("race rejected"),
        );
        const readSettled = read.then(
          () => order.push("read resolved"),
          () => order.push("read rejected"),
        );
        void socket.closed.then(() => order.push("closed"));
        await Promise.all([race, socket.close().then(() => order.push("close() resolved")), readSettled]);
        expect(order).toEqual(["closed", "race resolved undefined", "close() resolved", "read rejected"]);
      });

      it("after close(), abort() and cancel() resolve while reads and writes reject", async () => {
        // Clients tidy up after close() (redis-on-workers aborts the writer and cancels the reader):
        // in workerd that succeeds, where a standard errored stream would reject the cancel.
        const socket = dial(at(env.echo));
        await socket.opened;
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        const pending = reader.read();
        await socket.close();
        expect(await rejection(pending)).toBeInstanceOf(Error);
        expect(await writer.abort(new Error("after close"))).toBeUndefined();
        expect(await reader.cancel(new Error("after close"))).toBeUndefined();
        expect(await rejection(reader.read())).toBeInstanceOf(TypeError);
        expect(await rejection(writer.close())).toBeInstanceOf(TypeError);
        reader.releaseLock();
        const unlocked = dial(at(env.echo));
        await unlocked.opened;
        await unlocked.close();
        expect(await unlocked.readable.cancel()).toBeUndefined();
      });

      it("rejects writes and reads after close() with a TypeError", async () => {
        const socket = dial(at(env.echo));
        const writer = socket.writable.getWriter();
        const reader = socket.readable.getReader();
        await socket.opened;
        await socket.close();
        expect(await rejection(writer.write(bytes("x")))).toBeInstanceOf(TypeError);
        const read = await reader.read().then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
        expect("error" in read ? read.error : read).toBeInstanceOf(TypeError);
      });
    });

    tlsConformance({
      connect,
      env,
      dial,
      track,
      controlStats,
      flags: { startTlsThrowsWhenLocked: traits.startTlsRefusesLockedStreams, ...tls },
    });
  });
}
