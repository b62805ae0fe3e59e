import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import {
  ConnectError,
  parseSocketAddress,
  type Connect,
  type SecureTransport,
  type SocketAddress,
  type SocketLike,
  type SocketOptions,
} from "@sockkit/core";
import { edgeRefusal } from "./edge-rules.js";
import { CONNECT_FAILED, NodeSocket, type SocketPlan } from "./socket.js";

/** Node-only settings for {@link createConnect}. */
export interface NodeConnectOptions {
  /**
   * TLS settings passed to `tls.connect` for `secureTransport: "on"` and
   * `startTls()`. A `ca` given here is added to Node's root store and to
   * `NODE_EXTRA_CA_CERTS` (Node alone would replace them), so a local test CA
   * and public servers both verify.
   * @default {} (Node's defaults: system roots plus NODE_EXTRA_CA_CERTS, full verification)
   */
  tls?: Omit<tls.ConnectionOptions, "host" | "port" | "socket" | "servername">;
  /**
   * Refuse what Cloudflare's edge refuses (port 25; loopback, private,
   * link-local and other non-public addresses, checked after DNS), so a local
   * run fails where production would. Refusals reject `opened` with
   * `code: "EDESTINATION_DENIED"`.
   * @default false (local development usually talks to 127.0.0.1)
   */
  edgeRules?: boolean;
}

/** Writable high-water mark when `highWaterMark` is not given: workerd's `writer.desiredSize` starts at 1. */
const DEFAULT_WRITABLE_HIGH_WATER_MARK = 1;

/**
 * Builds a `connect()` with Node-only settings. The result has exactly the
 * signature of `connect` from `cloudflare:sockets`.
 */
export function createConnect(settings: NodeConnectOptions = {}): Connect {
  const tlsOptions = withExtraCa(settings.tls ?? {});
  const edgeRules = settings.edgeRules === true;

  return function connect(address: string | SocketAddress, options?: SocketOptions): SocketLike {
    const { hostname, port, display, unreachable } = parseSocketAddress(address);
    const plan: SocketPlan = {
      hostname,
      port,
      display,
      secureTransport: parseSecureTransport(options?.secureTransport),
      allowHalfOpen: options?.allowHalfOpen === true,
      writableHighWaterMark: parseHighWaterMark(options?.highWaterMark),
      tls: tlsOptions,
      resolveTarget: () =>
        unreachable
          ? Promise.reject(new ConnectError(display, `${CONNECT_FAILED} (${unreachable})`))
          : resolveTarget(hostname, port, display, edgeRules),
    };
    return new NodeSocket(plan);
  };
}

/** `connect()` with Node's defaults: the drop-in for `cloudflare:sockets`' `connect`. */
export const connect: Connect = createConnect();

async function resolveTarget(
  hostname: string,
  port: number,
  display: string,
  edgeRules: boolean,
): Promise<string> {
  // Node would read an empty host as localhost and reject port 0 with a
  // synchronous RangeError; workerd rejects `opened` for both.
  if (hostname === "") throw new ConnectError(display, `${CONNECT_FAILED} (empty hostname)`);
  if (port === 0) throw new ConnectError(display, `${CONNECT_FAILED} (port 0)`);
  if (!edgeRules) return hostname;

  const refusedPort = edgeRefusal.port(display, port);
  if (refusedPort) throw refusedPort;
  // Dial the address that was checked, so a name rebound between the check
  // and the connection cannot slip through.
  const addresses = net.isIP(hostname)
    ? [hostname]
    : (await lookup(hostname, { all: true, verbatim: true }).catch((cause: unknown) => {
        throw new ConnectError(display, `${CONNECT_FAILED} (${String((cause as Error).message ?? cause)})`, { cause });
      })).map((entry) => entry.address);
  for (const address of addresses) {
    const refused = edgeRefusal.address(display, address);
    if (refused) throw refused;
  }
  return addresses[0]!;
}

function parseSecureTransport(value: unknown): SecureTransport {
  if (value === undefined || value === "off") return "off";
  if (value === "on" || value === "starttls") return value;
  throw new TypeError(`Unsupported value in secureTransport socket option: ${String(value)}`);
}

function parseHighWaterMark(value: unknown): number {
  if (value === undefined) return DEFAULT_WRITABLE_HIGH_WATER_MARK;
  const n = typeof value === "bigint" ? Number(value) : value;
  if (typeof n !== "number" || Number.isNaN(n) || n < 0) {
    throw new TypeError(`highWaterMark must be a non-negative number, got ${String(value)}`);
  }
  return n;
}

function withExtraCa(options: NodeConnectOptions["tls"] & object): tls.ConnectionOptions {
  if (options.ca === undefined) return options;
  const own = Array.isArray(options.ca) ? options.ca : [options.ca];
  return { ...options, ca: [...tls.rootCertificates, ...extraCaCertificates(), ...own] };
}

function extraCaCertificates(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, "utf8")];
  } catch {
    return []; // Node itself only warns about an unreadable file; do the same by ignoring it.
  }
}
