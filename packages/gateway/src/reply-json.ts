import type { RespValue } from "@sockkit/core/redis";

/**
 * A Redis reply as JSON: bytes as `{ base64 }`, maps as objects, sets as arrays, big integers and
 * non-finite doubles as strings, error replies inside an aggregate as `{ error }`. The gateway's
 * `POST /redis` and the CLI's `sockkit redis` print replies this way.
 */
export function replyToJson(value: RespValue): unknown {
  if (value instanceof Uint8Array) return { base64: toBase64(value) };
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (value instanceof Map)
    return Object.fromEntries(
      [...value].map(([k, v]) => [String(k instanceof Uint8Array ? toBase64(k) : k), replyToJson(v)]),
    );
  if (value instanceof Set) return [...value].map(replyToJson);
  if (Array.isArray(value)) return value.map(replyToJson);
  if (value instanceof Error) return { error: value.message };
  return value;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Decodes base64, or returns undefined when `text` is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}
