import ipaddr from "ipaddr.js";

/** A host after canonicalization: an IP address, or a lower-case ASCII (IDNA) name. */
export type CanonicalHost =
  | { kind: "ipv4"; host: string; address: ipaddr.IPv4 }
  | { kind: "ipv6"; host: string; address: ipaddr.IPv6 }
  | { kind: "name"; host: string };

export type HostResult = CanonicalHost | { kind: "invalid"; reason: string };

// Room for a 253-character name with a trailing dot, or a bracketed IPv6
// address with a zone. Checked before any parsing, so a huge string costs nothing.
const MAX_INPUT_LENGTH = 300;
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
// What an IDNA-converted DNS name may hold: letters, digits, hyphen, and the
// underscore that SRV/TXT owner names use. Everything else (`*`, `!`, `$`, ...) is refused.
const ASCII_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
// Refused before the URL parser sees the string: it would silently strip
// tabs, newlines and outer spaces, percent-decode, and cut at `@`, `/`, `?`, `#`.
const FORBIDDEN = /[\u0000-\u0020\u007f-\u009f%@/\\?#:[\]<>^|*"'`{}]|\s/u;

/**
 * Canonicalizes a host for matching: IP literals in every form a resolver
 * accepts (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, full-width digits,
 * `[::ffff:127.0.0.1]`, `fe80::1%eth0`) become their address; names become
 * lower-case ASCII (IDNA) with one trailing dot removed. Never throws.
 */
export function canonicalizeHostResult(input: unknown): HostResult {
  if (typeof input !== "string") return invalid(`the host must be a string, got ${describeType(input)}`);
  if (input.length === 0) return invalid("the host is empty");
  if (input.length > MAX_INPUT_LENGTH)
    return invalid(`the host is ${input.length} characters long, more than ${MAX_INPUT_LENGTH}`);

  if (input.startsWith("[") || input.includes(":")) return ipv6Literal(input);
  if (FORBIDDEN.test(input)) return invalid(`the host ${quote(input)} holds a character no hostname can hold`);

  // The WHATWG URL host parser does IDNA (UTS #46) and the IPv4 number forms
  // resolvers accept (inet_aton's decimal, octal, hex and short forms), the
  // same way in every runtime sockkit supports.
  let parsed: string;
  try {
    parsed = new URL(`http://${input}/`).hostname;
  } catch {
    return invalid(`the host ${quote(input)} is not a valid hostname or IPv4 address`);
  }
  if (parsed.startsWith("[")) return ipv6Literal(parsed); // IDNA can map odd characters into a bracket form
  if (ipaddr.IPv4.isValidFourPartDecimal(parsed)) return fromIPv4(ipaddr.IPv4.parse(parsed));

  const name = parsed.endsWith(".") ? parsed.slice(0, -1) : parsed;
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !ASCII_NAME.test(name)) {
    return invalid(`the host ${quote(input)} is not a valid hostname`);
  }
  if (name.split(".").some((label) => label.length > MAX_LABEL_LENGTH)) {
    return invalid(`the host ${quote(input)} has a label longer than ${MAX_LABEL_LENGTH} characters`);
  }
  return { kind: "name", host: name };
}

/**
 * Canonicalizes a host (see {@link canonicalizeHostResult}), throwing a
 * `TypeError` that says why when it is not a valid hostname or IP address.
 */
export function canonicalizeHost(input: unknown): CanonicalHost {
  const result = canonicalizeHostResult(input);
  if (result.kind === "invalid") throw new TypeError(result.reason);
  return result;
}

function ipv6Literal(input: string): HostResult {
  const bracketed = input.startsWith("[");
  if (bracketed && !input.endsWith("]")) return invalid(`the host ${quote(input)} opens a bracket it does not close`);
  let text = bracketed ? input.slice(1, -1) : input;
  // A zone (`fe80::1%eth0`) names an interface, not another address: drop it.
  const zone = text.indexOf("%");
  if (zone !== -1) {
    if (!/^[A-Za-z0-9_.-]+$/.test(text.slice(zone + 1)))
      return invalid(`the host ${quote(input)} has an invalid IPv6 zone`);
    text = text.slice(0, zone);
  }
  // The URL parser is strict where ipaddr.js is lenient: it refuses an
  // embedded IPv4 part with leading zeros (`::ffff:0177.0.0.1`), which
  // resolvers refuse too rather than read one way or the other.
  let parsed: string;
  try {
    parsed = /^[0-9A-Fa-f:.]+$/.test(text) ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : "";
  } catch {
    parsed = "";
  }
  if (!ipaddr.IPv6.isValid(parsed)) {
    return invalid(`the host ${quote(input)} is not a valid IPv6 address (a hostname cannot hold ":")`);
  }
  const address = ipaddr.IPv6.parse(parsed);
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses
  // reach an IPv4 host: judge them as that host.
  if (address.isIPv4MappedAddress()) return fromIPv4(address.toIPv4Address());
  const p = address.parts;
  if (p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 && (p[6] !== 0 || p[7]! > 1)) {
    return fromIPv4(ipaddr.IPv4.parse(`${p[6]! >> 8}.${p[6]! & 255}.${p[7]! >> 8}.${p[7]! & 255}`));
  }
  return { kind: "ipv6", host: address.toString(), address };
}

function fromIPv4(address: ipaddr.IPv4): CanonicalHost {
  return { kind: "ipv4", host: address.toString(), address };
}

function invalid(reason: string): HostResult {
  return { kind: "invalid", reason };
}

/** Quotes user input for a message, cut short and with control characters escaped. */
export function quote(input: string): string {
  const cut = input.length > 64 ? `${input.slice(0, 64)}…` : input;
  return JSON.stringify(cut);
}

export function describeType(value: unknown): string {
  if (value === null) return "null";
  try {
    return Array.isArray(value) ? "an array" : typeof value;
  } catch {
    return "an unreadable object"; // a revoked Proxy
  }
}
