/**
 * An adapter's `utf8Decoder` capability (the runtime's native UTF-8 decoder, which the Redis client
 * uses for replies) decodes exactly as `TextDecoder` with `ignoreBOM`, and every connect the adapter
 * makes carries it. Run for adapter-node on Node and for the native adapters on Bun and Deno, each
 * against that runtime's own decoder.
 */
import { describe, expect, it } from "vitest";
import { createDestinationPolicy, guardConnect } from "@sockkit/core";
import {
  decodeUtf8,
  utf8Decoder,
  utf8DecoderOf,
  withDestinationPolicy,
  type PolicyAwareConnect,
  type TextAwareConnect,
} from "@sockkit/core/adapter";
import type { RuntimeName } from "./runtimes.js";

export interface Utf8DecoderOptions {
  runtime: RuntimeName;
  /** The adapter's default connect. */
  connect: TextAwareConnect;
  /** The adapter's createConnect with other settings (the capability must survive them). */
  customConnect: PolicyAwareConnect & TextAwareConnect;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function utf8DecoderConformance({ runtime, connect, customConnect }: Utf8DecoderOptions): void {
  describe(`connect carries the runtime's native UTF-8 decoder (the utf8Decoder capability, ${runtime})`, () => {
    const reference = new TextDecoder("utf-8", { ignoreBOM: true });

    it("decodes exactly as TextDecoder with ignoreBOM: every byte pair, and 20,000 awkward sequences", () => {
      const decode = utf8DecoderOf(connect);
      expect(decode).not.toBe(decodeUtf8); // the native one, not core's portable fallback
      const mismatches: string[] = [];
      const check = (bytes: Uint8Array, start: number, end: number) => {
        const got = decode(bytes, start, end);
        const want = reference.decode(bytes.subarray(start, end));
        if (got !== want) mismatches.push(hex(bytes.subarray(start, end)));
      };
      const pair = new Uint8Array(4);
      for (let a = 0; a < 256; a++) {
        for (let b = 0; b < 256; b++) {
          pair[1] = a;
          pair[2] = b;
          check(pair, 1, 3);
        }
      }
      // BOMs, multi-byte characters, surrogates, overlongs, truncations, past U+10FFFF.
      const awkward = [
        [0xef, 0xbb, 0xbf],
        [0xe2, 0x98, 0x83],
        [0xf0, 0x9d, 0x84, 0x9e],
        [0xed, 0xa0, 0x80],
        [0xc0, 0xaf],
        [0xe0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xff],
        [0x80],
        [0x41],
      ];
      let seed = 42;
      const next = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
      for (let i = 0; i < 20_000; i++) {
        const bytes = [
          ...Array.from({ length: next(12) }, () => awkward[next(awkward.length)]!).flat(),
          ...Array.from({ length: next(30) }, () => next(256)),
        ];
        const view = new Uint8Array(bytes);
        const start = next(view.length + 1);
        check(view, start, start + next(view.length - start + 1));
      }
      expect(mismatches).toEqual([]);
    });

    it("createConnect's connects, their policy variants and guardConnect all keep it", () => {
      const native = connect[utf8Decoder];
      expect(typeof native).toBe("function");
      expect(customConnect[utf8Decoder]).toBe(native);
      const policy = createDestinationPolicy({ allow: ["127.0.0.1"] });
      expect((customConnect[withDestinationPolicy]!(policy) as TextAwareConnect)[utf8Decoder]).toBe(native);
      expect(utf8DecoderOf(guardConnect(customConnect, policy))).toBe(native);
    });
  });
}
