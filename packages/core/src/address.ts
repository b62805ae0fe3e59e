import type { SocketAddress } from "./types.js";

/** An address after the same checks workerd's `connect()` makes. */
export interface ParsedAddress {
  /** Hostname without IPv6 brackets, e.g. `::1` or `example.com`. */
  hostname: string;
  /** Port, an integer from 0 to 65535. */
  port: number;
  /** The address as workerd reports it in `SocketInfo.remoteAddress`: `host:port` as given. */
  display: string;
}

const MAX_ADDRESS_LENGTH = 255;
// workerd accepts only these characters in `host:port` (letters, digits, `-._[]:`).
const VALID_ADDRESS = /^[A-Za-z0-9\-._[\]:]+$/;

/**
 * Parses and validates an address exactly where workerd's `connect()` throws
 * a synchronous `TypeError`; anything it accepts but cannot connect to (an
 * empty hostname, port 0) passes here and fails later, on `opened`.
 */
export function parseSocketAddress(address: string | SocketAddress): ParsedAddress {
  let hostname: string;
  let port: number;
  let display: string;
  if (typeof address === "string") {
    ({ hostname, port } = parseAddressString(address));
    display = address;
  } else if (typeof address === "object" && address !== null) {
    const { hostname: h, port: p } = address as { hostname?: unknown; port?: unknown };
    if (typeof h !== "string") throw new TypeError("Specified address is missing hostname.");
    port = checkPort(p);
    hostname = h;
    display = `${h}:${port}`;
  } else {
    throw new TypeError("connect() expects an address string or a { hostname, port } object.");
  }
  if (display.length > MAX_ADDRESS_LENGTH || !VALID_ADDRESS.test(display)) {
    throw new TypeError(
      "Specified address is empty string, contains unsupported characters or is too long.",
    );
  }
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  return { hostname, port, display };
}

function parseAddressString(address: string): { hostname: string; port: number } {
  // Like workerd: the string is a URL authority (so `[v6]:port` works), but
  // without a default port.
  const match = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(address);
  if (!match) {
    if (address.length === 0 || /[^A-Za-z0-9\-._[\]:]/.test(address)) {
      throw new TypeError(
        "Specified address is empty string, contains unsupported characters or is too long.",
      );
    }
    throw new TypeError(`Specified address could not be parsed: expected "host:port" or "[ipv6]:port", got "${address}".`);
  }
  return { hostname: match[1]!, port: checkPort(Number(match[2])) };
}

function checkPort(port: unknown): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`The port must be an integer from 0 to 65535, got ${String(port)}.`);
  }
  return port;
}
