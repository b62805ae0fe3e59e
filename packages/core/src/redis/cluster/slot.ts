import { formatNumber, type RedisArgument } from "../resp/encoder.js";

/** Redis Cluster's hash slots: a key's slot is CRC16(key) mod 16384. */
export const SLOT_COUNT = 16384;

// CRC16/XMODEM (polynomial 0x1021, initial value 0, nothing reflected), as the cluster spec defines it.
const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  TABLE[i] = crc & 0xffff;
}

const utf8 = new TextEncoder();

/** CRC16/XMODEM of `bytes[start, end)`. */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The slot of a key, hashed over the bytes the encoder sends for it (strings
 * as UTF-8, a lone surrogate as U+FFFD like `TextEncoder`; numbers in their
 * decimal form). A hash tag is honoured: when the key holds a `{` and, after
 * it, a `}` with at least one byte between, only those bytes are hashed
 * (`{user1}.a` and `{user1}.b` share a slot; `{}`, `}{` and a lone `{` hash
 * the whole key; in `{a}{b}` only `a` counts).
 */
export function keySlot(key: RedisArgument): number {
  if (typeof key === "string") return stringSlot(key);
  if (key instanceof Uint8Array) return bytesSlot(key);
  return stringSlot(formatNumber(key));
}

function stringSlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  // ASCII (most keys) is hashed straight from the string; anything else is encoded first.
  let crc = 0;
  for (let i = start; i < end; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return crc16(utf8.encode(key.slice(start, end))) & (SLOT_COUNT - 1);
    crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >> 8) ^ c) & 0xff]!;
  }
  return crc & (SLOT_COUNT - 1);
}

function bytesSlot(key: Uint8Array): number {
  const open = key.indexOf(0x7b);
  if (open !== -1) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) & (SLOT_COUNT - 1);
  }
  return crc16(key) & (SLOT_COUNT - 1);
}
