import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDestinationPolicy } from "../src/destination/policy.js";
import { guardConnect } from "../src/destination/guard.js";
import { utf8Decoder, type TextAwareConnect } from "../src/capabilities.js";
import { decodeUtf8, SHORT_TEXT, shortText, utf8DecoderOf, type DecodeUtf8 } from "../src/text.js";
import type { Connect } from "../src/types.js";

const reference = new TextDecoder("utf-8", { ignoreBOM: true });
const enc = new TextEncoder();

// Bytes that exercise every decoding rule: ASCII, multi-byte, BOM, and invalid sequences.
const awkwardBytes = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 127 }).map((b) => [b]),
      fc.integer({ min: 0, max: 255 }).map((b) => [b]),
      fc.constantFrom(
        [0xef, 0xbb, 0xbf],
        [0xe2, 0x98, 0x83],
        [0xf0, 0x9d, 0x84, 0x9e],
        [0xc3],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
      ),
    ),
    { maxLength: 40 },
  )
  .map((parts) => new Uint8Array(parts.flat()));

describe("decodeUtf8 (the portable decoder)", () => {
  it("equals TextDecoder with ignoreBOM on any bytes and any range, short or long", () => {
    fc.assert(
      fc.property(awkwardBytes, fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = a % (bytes.length + 1);
        const end = start + (b % (bytes.length - start + 1));
        expect(decodeUtf8(bytes, start, end)).toBe(reference.decode(bytes.subarray(start, end)));
        if (end - start <= SHORT_TEXT)
          expect(shortText(bytes, start, end)).toBe(reference.decode(bytes.subarray(start, end)));
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps a leading U+FEFF: it is data, not a byte-order mark", () => {
    const bytes = enc.encode("\uFEFFhi");
    expect(decodeUtf8(bytes, 0, bytes.length)).toBe("\uFEFFhi");
    const long = enc.encode(`\uFEFF${"x".repeat(40)}`);
    expect(decodeUtf8(long, 0, long.length)).toBe(`\uFEFF${"x".repeat(40)}`);
  });
});

describe("the utf8Decoder capability of a Connect", () => {
  const plain: Connect = () => {
    throw new Error("not dialled in this test");
  };

  it("utf8DecoderOf gives the connect's own decoder, or the portable one", () => {
    const native: DecodeUtf8 = (bytes, start, end) => reference.decode(bytes.subarray(start, end));
    const capable: TextAwareConnect = Object.assign((() => plain("x:1")) as Connect, { [utf8Decoder]: native });
    expect(utf8DecoderOf(capable)).toBe(native);
    expect(utf8DecoderOf(plain)).toBe(decodeUtf8);
  });

  it("guardConnect keeps it: a policy changes where sockets go, not how bytes are read", () => {
    const native: DecodeUtf8 = () => "native";
    const capable: TextAwareConnect = Object.assign((() => plain("x:1")) as Connect, { [utf8Decoder]: native });
    const policy = createDestinationPolicy({ allow: ["example.com"] });
    expect(utf8DecoderOf(guardConnect(capable, policy))).toBe(native);
    expect(utf8DecoderOf(guardConnect(plain, policy))).toBe(decodeUtf8);
  });
});
