import { describe, expect, it } from "vitest";
import { SocketPool } from "../src/pool.js";
import type { Connect, SocketLike } from "../src/types.js";

const disposeKey = ((Symbol as { asyncDispose?: symbol }).asyncDispose ??
  Symbol.for("Symbol.asyncDispose")) as typeof Symbol.asyncDispose;

function fakeConnect() {
  const closed: number[] = [];
  let n = 0;
  const connect: Connect = () => {
    const id = n++;
    const socket: SocketLike = {
      readable: new ReadableStream({ pull: () => new Promise(() => {}) }),
      writable: new WritableStream(),
      opened: Promise.resolve({ remoteAddress: "h:1" }),
      closed: new Promise(() => {}),
      upgraded: false,
      secureTransport: "off",
      close: async () => {
        closed.push(id);
      },
      startTls: () => socket,
    };
    return socket;
  };
  return { connect, closed, opened: () => n };
}

describe("SocketPool (unit)", () => {
  it("disposing the pool (await using) drains it; disposing a lease releases it", async () => {
    const fake = fakeConnect();
    const pool = new SocketPool({ connect: fake.connect });
    const lease = await pool.acquire("h:1");
    await lease[disposeKey]();
    await new Promise((resolve) => setTimeout(resolve, 5)); // a released socket goes idle after one look at its stream
    expect(pool.stats()).toEqual({ total: 1, idle: 1, inUse: 0, waiting: 0 });
    await pool[disposeKey]();
    expect(pool.stats().total).toBe(0);
    expect(fake.closed).toEqual([0]);
    await expect(pool.acquire("h:1")).rejects.toThrow(/draining/);
  });

  it("drain() rejects waiters and closes sockets on loan too", async () => {
    const fake = fakeConnect();
    const pool = new SocketPool({ connect: fake.connect, maxTotal: 1 });
    await pool.acquire("h:1");
    const waiting = pool.acquire("h:1");
    await pool.drain();
    await expect(waiting).rejects.toThrow(/draining/);
    expect(fake.closed).toEqual([0]);
  });

  it("evicts an idle socket of another destination to make room", async () => {
    const fake = fakeConnect();
    const pool = new SocketPool({ connect: fake.connect, maxTotal: 1 });
    (await pool.acquire("a:1")).release();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const b = await pool.acquire("b:1");
    expect(fake.opened()).toBe(2);
    expect(fake.closed).toEqual([0]);
    b.release();
    await pool.drain();
  });

  it("rejects bad options and bad addresses with a TypeError", async () => {
    expect(() => new SocketPool({} as never)).toThrow(TypeError);
    expect(() => new SocketPool({ connect: fakeConnect().connect, maxTotal: 0 })).toThrow(TypeError);
    const pool = new SocketPool({ connect: fakeConnect().connect });
    await expect(pool.acquire("no port")).rejects.toThrow(TypeError);
    await pool.drain();
  });
});

describe("SocketPool: a caller that gives up while its socket is opening", () => {
  it("does not strand the socket: it goes idle and serves the next caller", async () => {
    let open!: () => void;
    let opens = 0;
    const connect: Connect = () => {
      opens++;
      const socket: SocketLike = {
        readable: new ReadableStream({ pull: () => new Promise(() => {}) }),
        writable: new WritableStream(),
        opened: new Promise((resolve) => (open = () => resolve({ remoteAddress: "h:1" }))),
        closed: new Promise(() => {}),
        upgraded: false,
        secureTransport: "off",
        close: async () => {},
        startTls: () => socket,
      };
      return socket;
    };
    const pool = new SocketPool({ connect, maxTotal: 1, acquireTimeoutMs: 20 });
    await expect(pool.acquire("h:1")).rejects.toThrow(/within 20 ms/);
    open();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(pool.stats()).toEqual({ total: 1, idle: 1, inUse: 0, waiting: 0 });
    const lease = await pool.acquire("h:1");
    expect(opens).toBe(1);
    lease.release();
    await pool.drain();
  });
});
