import { describe, expect, it } from "vitest";
import { connectWithTimeout } from "../src/connect-with-timeout.js";
import { isSockkitError } from "../src/errors.js";
import { readAll } from "../src/read-all.js";
import type { Connect, SocketInfo, SocketLike } from "../src/types.js";

/** A socket whose readable serves `chunks` and whose `opened` settles when told. */
function fakeSocket(chunks: Uint8Array[] = [], { endless = false } = {}) {
  let open!: (info: SocketInfo) => void;
  const opened = new Promise<SocketInfo>((resolve) => (open = resolve));
  let closeCalls = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else if (endless) controller.enqueue(new Uint8Array(1000));
      else controller.close();
    },
  });
  const socket: SocketLike = {
    readable,
    writable: new WritableStream(),
    opened,
    closed: Promise.resolve(),
    upgraded: false,
    secureTransport: "off",
    close: async () => {
      closeCalls++;
    },
    startTls: () => {
      throw new TypeError("not starttls");
    },
  };
  return { socket, open: () => open({ remoteAddress: "x:1" }), closeCalls: () => closeCalls };
}

describe("readAll", () => {
  it("reads to EOF across chunks", async () => {
    const { socket } = fakeSocket([new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect(await readAll(socket)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("past maxBytes closes the socket and rejects with ETOOLARGE", async () => {
    const fake = fakeSocket([], { endless: true });
    const error = await readAll(fake.socket, { maxBytes: 5000 }).catch((e: unknown) => e);
    expect(isSockkitError(error, "ETOOLARGE")).toBe(true);
    expect(fake.closeCalls()).toBe(1);
  });

  it("an abort closes the socket and rejects with the signal's reason", async () => {
    const fake = fakeSocket([], { endless: false });
    const never = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const controller = new AbortController();
    const reading = readAll({ ...fake.socket, readable: never }, { signal: controller.signal });
    const reason = new Error("client went away");
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
    expect(fake.closeCalls()).toBe(1);
  });
});

describe("connectWithTimeout", () => {
  const pendingConnect =
    (fake: ReturnType<typeof fakeSocket>): Connect =>
    () =>
      fake.socket;

  it("resolves with the socket once opened", async () => {
    const fake = fakeSocket();
    const connecting = connectWithTimeout(pendingConnect(fake), "x:1", undefined, { timeoutMs: 1000 });
    fake.open();
    expect(await connecting).toBe(fake.socket);
    expect(fake.closeCalls()).toBe(0);
  });

  it("on timeout closes the socket and rejects with ETIMEDOUT", async () => {
    const fake = fakeSocket();
    const error = await connectWithTimeout(pendingConnect(fake), "x:1", undefined, { timeoutMs: 20 }).catch(
      (e: unknown) => e,
    );
    expect(isSockkitError(error, "ETIMEDOUT")).toBe(true);
    expect((error as { timeoutMs: number }).timeoutMs).toBe(20);
    expect(fake.closeCalls()).toBe(1);
  });

  it("on abort closes the socket and rejects with signal.reason; an aborted signal never connects", async () => {
    const fake = fakeSocket();
    const controller = new AbortController();
    const connecting = connectWithTimeout(pendingConnect(fake), "x:1", undefined, { signal: controller.signal });
    controller.abort("stop");
    await expect(connecting).rejects.toBe("stop");
    expect(fake.closeCalls()).toBe(1);
    let called = false;
    await expect(
      connectWithTimeout(() => ((called = true), fake.socket), "x:1", undefined, {
        signal: AbortSignal.abort("early"),
      }),
    ).rejects.toBe("early");
    expect(called).toBe(false);
  });

  it("throws connect's synchronous TypeError as it is, and rejects a bad timeout", async () => {
    const throwing: Connect = () => {
      throw new TypeError("bad address");
    };
    await expect(connectWithTimeout(throwing, "x")).rejects.toThrow("bad address");
    await expect(connectWithTimeout(throwing, "x:1", undefined, { timeoutMs: -1 })).rejects.toThrow(TypeError);
  });
});
