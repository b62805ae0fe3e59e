import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSockkitError } from "../src/errors.js";
import { FramedReader } from "../src/framed-reader.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A stream that delivers `bytes` cut at the given offsets. */
function streamOf(bytes: Uint8Array, cuts: number[] = []): ReadableStream<Uint8Array> {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    if (p > at) chunks.push(bytes.slice(at, p));
    at = p;
  }
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("FramedReader", () => {
  it("reads length-prefixed and delimited frames intact at every split point (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.nat({ max: 400 }), { maxLength: 12 }),
        async (frames, cuts) => {
          // Each frame: 1-byte length, the bytes, then "\r\n"-terminated text of the length.
          const parts: number[] = [];
          for (const frame of frames) parts.push(frame.length, ...frame, ...enc.encode(`${frame.length}\r\n`));
          const reader = new FramedReader(streamOf(Uint8Array.from(parts), cuts));
          for (const frame of frames) {
            const [length] = await reader.readExactly(1);
            expect(await reader.readExactly(length!)).toEqual(frame);
            expect(await reader.readLine()).toBe(String(frame.length));
          }
          expect(await reader.read()).toBeUndefined();
          expect(reader.release()).toEqual(new Uint8Array(0));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("finds a multi-byte delimiter split across chunks at every position", async () => {
    const text = "alpha<END>beta<END>";
    for (let a = 0; a <= text.length; a++) {
      for (let b = a; b <= text.length; b++) {
        const reader = new FramedReader(streamOf(enc.encode(text), [a, b]));
        expect(dec.decode(await reader.readUntil("<END>"))).toBe("alpha");
        expect(dec.decode(await reader.readUntil("<END>"))).toBe("beta");
        expect(await reader.read()).toBeUndefined();
      }
    }
  });

  it("readLine keeps a line's leading U+FEFF: it is the line's data", async () => {
    const reader = new FramedReader(streamOf(enc.encode("\uFEFFfirst\r\n\uFEFFsecond\n")));
    expect(await reader.readLine()).toBe("\uFEFFfirst");
    expect(await reader.readLine()).toBe("\uFEFFsecond");
  });

  it("keeps bytes that arrived past a frame, and hands them back on release()", async () => {
    const stream = streamOf(enc.encode("HEAD\nrest of the body"));
    const reader = new FramedReader(stream);
    expect(await reader.readLine()).toBe("HEAD");
    expect(dec.decode(reader.release())).toBe("rest of the body");
    expect(stream.locked).toBe(false);
  });

  it("rejects EOF inside a frame with ETRUNCATED, never a short result", async () => {
    const short = new FramedReader(streamOf(enc.encode("abc")));
    const error = await failure(short.readExactly(5));
    expect(isSockkitError(error, "ETRUNCATED")).toBe(true);
    expect((error as { received: number }).received).toBe(3);
    const noDelimiter = new FramedReader(streamOf(enc.encode("no newline")));
    expect(isSockkitError(await failure(noDelimiter.readLine()), "ETRUNCATED")).toBe(true);
  });

  it("rejects a frame longer than maxBytes with ETOOLARGE, without buffering the rest", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1024;
        controller.enqueue(new Uint8Array(1024).fill(0x61));
      },
    });
    const reader = new FramedReader(endless, { maxBytes: 4096 });
    expect(isSockkitError(await failure(reader.readLine()), "ETOOLARGE")).toBe(true);
    expect(pulled).toBeLessThanOrEqual(4096 + 2048);
    await reader.cancel();
    const exact = new FramedReader(streamOf(enc.encode("12345\n")));
    expect(isSockkitError(await failure(exact.readLine({ maxBytes: 4 })), "ETOOLARGE")).toBe(true);
  });

  it("accepts a frame of exactly maxBytes", async () => {
    const reader = new FramedReader(streamOf(enc.encode("1234\n"), [2]));
    expect(await reader.readLine({ maxBytes: 4 })).toBe("1234");
  });

  it("throws a TypeError for bad arguments", async () => {
    const reader = new FramedReader(streamOf(enc.encode("x")));
    await expect(reader.readExactly(-1)).rejects.toThrow(TypeError);
    await expect(reader.readUntil("")).rejects.toThrow(TypeError);
    expect(() => new FramedReader(streamOf(new Uint8Array(0)), { maxBytes: -5 })).toThrow(TypeError);
  });
});
