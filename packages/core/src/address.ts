import type { SocketAddress } from "./types.js";

/** An address after the same checks workerd's `connect()` makes. */
export interface ParsedAddress {
  /** Hostname without IPv6 brackets, e.g. `::1` or `example.com`. */
  hostname: string;
  /** Port, an integer from 0 to 65535. */
  port: number;
  /** The address as workerd reports it in `SocketInfo.remoteAddress`: `host:port` as given. */
  display: string;
  /**
   * Set when workerd accepts the address but can never connect to it (it
   * rejects `opened`): an IPv6 hostname without brackets in the object form.
   */
  unreachable?: string;
}

const MAX_ADDRESS_LENGTH = 255;
// workerd accepts only these characters in `host:port` (letters, digits, `-._[]:`).
const VALID_ADDRESS = /^[A-Za-z0-9\-._[\]:]+$/;
const INVALID_ADDRESS = "Specified address is empty string, contains unsupported characters or is too long.";

/**
 * Parses and validates an address exactly where workerd's `connect()` throws
 * a synchronous `TypeError`; anything it accepts but cannot connect to (an
 * empty hostname, port 0) passes here and fails later, on `opened`.
 */
export function parseSocketAddress(address: string | SocketAddress): ParsedAddress {
  if (typeof address === "string") return parseAddressString(address);
  if (typeof address !== "object" || address === null) {
    throw new TypeError("connect() expects an address string or a { hostname, port } object.");
  }
  const { hostname, port: rawPort } = address as { hostname?: unknown; port?: unknown };
  if (typeof hostname !== "string") throw new TypeError("Specified address is missing hostname.");
  const port = checkPort(rawPort);
  const display = `${hostname}:${port}`;
  checkCharacters(display);
  const bracketed = hostname.startsWith("[") && hostname.endsWith("]");
  return {
    hostname: bracketed ? hostname.slice(1, -1) : hostname,
    port,
    display,
    ...(!bracketed && hostname.includes(":")
      ? { unreachable: `an IPv6 hostname must be written in brackets, e.g. "[${hostname}]"` }
      : {}),
  };
}

function parseAddressString(address: string): ParsedAddress {
  checkCharacters(address);
  // Like workerd: the string is a URL authority (so `[v6]:port` works), but
  // with no default port. The explicit split keeps `:443`, which URL drops.
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(address);
  if (!match || !canParseAuthority(address)) {
    throw new TypeError("Specified address could not be parsed.");
  }
  if (!match[2]) throw new TypeError("Specified address is missing port.");
  const host = match[1]!;
  return {
    hostname: host.startsWith("[") ? host.slice(1, -1) : host,
    port: checkPort(Number(match[2])),
    display: address,
  };
}

function canParseAuthority(address: string): boolean {
  try {
    new URL(`https://${address}`);
    return true;
  } catch {
    return false;
  }
}

function checkCharacters(display: string): void {
  if (display.length === 0 || display.length > MAX_ADDRESS_LENGTH || !VALID_ADDRESS.test(display)) {
    throw new TypeError(INVALID_ADDRESS);
  }
}

function checkPort(port: unknown): number {
  // workerd converts the port to an integer (80.5 connects to 80) and throws outside 0..65535.
  if (typeof port !== "number" || Number.isNaN(port) || port < 0 || port >= 65536) {
    throw new TypeError(`The port must be a number from 0 to 65535, got ${String(port)}.`);
  }
  return Math.trunc(port);
}

/** `host:port` for messages, without validating. */
export function describeAddress(address: string | SocketAddress): string {
  return typeof address === "string" ? address : `${address.hostname}:${address.port}`;
}
