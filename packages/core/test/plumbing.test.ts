// The plumbing both clients share: the batched writer, the read loop and the reconnection backoff.
import { describe, expect, it, vi } from "vitest";
import { BatchedWriter } from "../src/batched-writer.js";
import { ReconnectBackoff } from "../src/backoff.js";
import { readLoop } from "../src/read-loop.js";

/** A writer whose writes complete when the test says. */
function manualWriter() {
  const writes: Uint8Array[] = [];
  const pending: Array<{ resolve(): void; reject(error: unknown): void }> = [];
  const writer = {
    closed: new Promise<void>(() => {}),
    ready: Promise.resolve(),
    write(chunk: Uint8Array) {
      writes.push(chunk);
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
  } as unknown as WritableStreamDefaultWriter<Uint8Array>;
  return { writer, writes, pending };
}

const tick = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("BatchedWriter", () => {
  it("writes what one tick queued in one write, and the next tick's while that write is in flight in the next", async () => {
    const { writer, writes, pending } = manualWriter();
    const out = new BatchedWriter(writer, () => {});
    out.queue(new Uint8Array([1]));
    out.queue(new Uint8Array([2, 3]));
    await tick();
    expect(writes).toEqual([new Uint8Array([1, 2, 3])]);
    out.queue(new Uint8Array([4]));
    out.queue(new Uint8Array([5]));
    await tick();
    expect(writes).toHaveLength(1); // one write at a time
    pending.shift()!.resolve();
    await tick();
    expect(writes[1]).toEqual(new Uint8Array([4, 5]));
  });

  it("drained() waits for the batch queued behind a write that has not finished (no spinning), written() for its own batch", async () => {
    const { writer, pending } = manualWriter();
    const out = new BatchedWriter(writer, () => {});
    out.queue(new Uint8Array(10));
    await tick(); // in flight, never finishing yet
    out.queue(new Uint8Array(10)); // queued behind it, nobody asked for its promise
    expect(out.backlog).toBe(10);
    let drained = false;
    let written = false;
    void out.drained().then(() => (drained = true));
    void out.written().then(() => (written = true));
    await tick();
    expect([drained, written]).toEqual([false, false]);
    pending.shift()!.resolve();
    await tick();
    expect([drained, written]).toEqual([false, false]); // the second batch is in flight now
    pending.shift()!.resolve();
    await tick();
    expect([drained, written]).toEqual([true, true]);
  });

  it("drained() of a writer with nothing queued waits for the write in flight, then settles", async () => {
    const { writer, pending } = manualWriter();
    const out = new BatchedWriter(writer, () => {});
    out.queue(new Uint8Array(1));
    await tick();
    let drained = false;
    void out.drained().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    pending.shift()!.resolve();
    await tick();
    expect(drained).toBe(true);
    await expect(out.drained()).resolves.toBeUndefined(); // idle: at once
  });

  it("with collect: bytes kept elsewhere are written at the flush; written() settles even when there were none", async () => {
    const { writer, writes } = manualWriter();
    let kept: Uint8Array | undefined = new Uint8Array([7]);
    const out = new BatchedWriter(
      writer,
      () => {},
      () => {
        const taken = kept;
        kept = undefined;
        return taken;
      },
    );
    out.schedule();
    await tick();
    expect(writes).toEqual([new Uint8Array([7])]);
    const nothing = new BatchedWriter(
      manualWriter().writer,
      () => {},
      () => undefined,
    );
    nothing.schedule();
    const settled = vi.fn();
    void nothing.written().then(settled);
    await tick();
    expect(settled).toHaveBeenCalled();
  });

  it("a failed write: onError once, what is queued rejects, and the writer refuses from then on", async () => {
    const { writer, pending } = manualWriter();
    const onError = vi.fn();
    const out = new BatchedWriter(writer, onError);
    out.queue(new Uint8Array(1));
    const first = out.written();
    await tick();
    out.queue(new Uint8Array(1));
    const second = out.written();
    pending.shift()!.reject(new Error("reset"));
    await expect(first).rejects.toThrow("reset");
    await expect(second).rejects.toThrow("reset");
    expect(onError).toHaveBeenCalledTimes(1);
    expect(() => out.queue(new Uint8Array(1))).toThrow("reset");
    await expect(out.drained()).resolves.toBeUndefined();
  });
});

describe("readLoop", () => {
  const reader = (chunks: Uint8Array[]) => {
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    return stream.getReader();
  };

  it("hands each chunk on and resolves true at the end; the lock is released", async () => {
    const got: number[] = [];
    const r = reader([new Uint8Array([1]), new Uint8Array([2])]);
    await expect(
      readLoop(
        r,
        (c) => got.push(c[0]!),
        () => false,
      ),
    ).resolves.toBe(true);
    expect(got).toEqual([1, 2]);
    expect(() => r.releaseLock()).not.toThrow();
  });

  it("stops (false) when its owner moved on, and waits for beforeRead's promise first", async () => {
    let stop = false;
    const got: number[] = [];
    let release!: () => void;
    let waits = 0;
    const loop = readLoop(
      reader([new Uint8Array([1]), new Uint8Array([2])]),
      (c) => {
        got.push(c[0]!);
        stop = true;
      },
      () => stop,
      () => (waits++ === 0 ? new Promise<void>((resolve) => (release = resolve)) : undefined),
    );
    await tick();
    expect(got).toEqual([]); // held by beforeRead
    release();
    await expect(loop).resolves.toBe(false);
    expect(got).toEqual([1]);
  });

  it("rejects with what onChunk throws", async () => {
    await expect(
      readLoop(
        reader([new Uint8Array([1])]),
        () => {
          throw new Error("bad chunk");
        },
        () => false,
      ),
    ).rejects.toThrow("bad chunk");
  });
});

describe("ReconnectBackoff", () => {
  const settings = { retries: 2, baseDelayMs: 100, maxDelayMs: 1000 };

  it("counts failed attempts against retries; a completed handshake starts the count again", () => {
    const backoff = new ReconnectBackoff(settings);
    expect(backoff.attempt).toBe(1);
    expect(backoff.failed()).toBe(true);
    expect(backoff.failed()).toBe(true);
    expect(backoff.attempt).toBe(3);
    expect(backoff.failed()).toBe(false); // a third failure is past retries: 2
    backoff.up();
    expect(backoff.attempt).toBe(1);
    expect(backoff.steps).toBe(0);
  });

  it("a connection lost soon after its handshake lengthens the wait from the second such loss in a row, without using up retries", () => {
    const backoff = new ReconnectBackoff(settings);
    backoff.up();
    backoff.lost();
    expect(backoff.steps).toBe(0);
    backoff.up();
    backoff.lost();
    expect(backoff.steps).toBe(1);
    backoff.up();
    backoff.lost();
    expect(backoff.steps).toBe(2);
    expect(backoff.attempt).toBe(1);
    // One that lived longer than maxDelayMs resets the run.
    backoff.lost(Date.now() - 5000);
    expect(backoff.steps).toBe(0);
  });

  it("waits from half to all of the capped doubling step", () => {
    const backoff = new ReconnectBackoff(settings);
    for (let i = 0; i < 3; i++) backoff.failed();
    for (let i = 0; i < 50; i++) {
      const delay = backoff.delay();
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });
});
