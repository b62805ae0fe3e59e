import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import {
  ConnectError,
  DestinationDeniedError,
  parseSocketAddress,
  withDestinationPolicy,
  type Connect,
  type DestinationPolicy,
  type PolicyAwareConnect,
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
  /**
   * A destination policy (`createDestinationPolicy` / `createAllowlist` from
   * `@sockkit/core`) applied before any I/O. A name that `publicOnly` must
   * judge by its addresses is resolved first, every address is checked, and
   * the checked address is dialled (the name still drives TLS SNI and
   * certificate verification), so DNS rebinding between check and connect
   * cannot slip through. Refusals reject `opened` with `code: "EDESTINATION_DENIED"`.
   * `guardConnect(connect, policy)` from `@sockkit/core` reaches this too.
   * @default undefined (no policy)
   */
  policy?: DestinationPolicy;
  /**
   * Resolves a name to its addresses when `policy` or `edgeRules` must see
   * them. Useful for a custom resolver, and for tests.
   * @default every address `dns.lookup` returns, in the resolver's order
   */
  resolve?: (hostname: string) => Promise<readonly string[]>;
}

/** Writable high-water mark when `highWaterMark` is not given: workerd's `writer.desiredSize` starts at 1. */
const DEFAULT_WRITABLE_HIGH_WATER_MARK = 1;

/**
 * Builds a `connect()` with Node-only settings. The result has exactly the
 * signature of `connect` from `cloudflare:sockets`.
 */
export function createConnect(settings: NodeConnectOptions = {}): PolicyAwareConnect {
  const tlsOptions = withExtraCa(settings.tls ?? {});
  const checks: TargetChecks = {
    edgeRules: settings.edgeRules === true,
    policy: settings.policy,
    resolve: settings.resolve ?? lookupAll,
  };
  if (checks.policy !== undefined && typeof checks.policy.check !== "function") {
    throw new TypeError("policy must be a DestinationPolicy (createDestinationPolicy or createAllowlist from @sockkit/core)");
  }

  const connect: PolicyAwareConnect = function connect(address: string | SocketAddress, options?: SocketOptions): SocketLike {
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
          : resolveTarget(hostname, port, display, checks),
    };
    return new NodeSocket(plan);
  };
  // Lets guardConnect() hand the DNS part of a policy to this adapter.
  connect[withDestinationPolicy] = (policy: DestinationPolicy) => createConnect({ ...settings, policy });
  return connect;
}

/** `connect()` with Node's defaults: the drop-in for `cloudflare:sockets`' `connect`. */
export const connect: PolicyAwareConnect = createConnect();

interface TargetChecks {
  edgeRules: boolean;
  policy: DestinationPolicy | undefined;
  resolve: (hostname: string) => Promise<readonly string[]>;
}

/** The address to dial, after every check; rejects with the refusal. */
async function resolveTarget(hostname: string, port: number, display: string, checks: TargetChecks): Promise<string> {
  // Node would read an empty host as localhost and reject port 0 with a
  // synchronous RangeError; workerd rejects `opened` for both.
  if (hostname === "") throw new ConnectError(display, `${CONNECT_FAILED} (empty hostname)`);
  if (port === 0) throw new ConnectError(display, `${CONNECT_FAILED} (port 0)`);
  const { edgeRules, policy } = checks;
  let target = hostname;
  let mustResolve = edgeRules && !net.isIP(hostname);

  if (policy) {
    const decision = policy.check(hostname, port);
    if (!decision.allowed) throw new DestinationDeniedError(display, decision.reason);
    // Dial the canonical form the policy judged (127.0.0.1 for 2130706433), never a second reading of it.
    if (decision.kind !== "name") target = decision.host;
    mustResolve ||= decision.resolve;
  }
  if (edgeRules) {
    const refusedPort = edgeRefusal.port(display, port);
    if (refusedPort) throw refusedPort;
  }
  if (!mustResolve) {
    if (edgeRules) {
      const refused = edgeRefusal.address(display, target);
      if (refused) throw refused;
    }
    return target;
  }

  // Dial an address that was checked, so a name rebound between the check
  // and the connection cannot slip through.
  const addresses = await checks.resolve(hostname).then(
    (found) => [...found],
    (cause: unknown) => {
      throw new ConnectError(display, `${CONNECT_FAILED} (${String((cause as Error)?.message ?? cause)})`, { cause });
    },
  );
  if (policy) {
    const decision = policy.checkResolved(hostname, port, addresses);
    if (!decision.allowed) throw new DestinationDeniedError(display, decision.reason);
  }
  if (addresses.length === 0) throw new ConnectError(display, `${CONNECT_FAILED} (${hostname} resolved to no address)`);
  if (edgeRules) {
    for (const address of addresses) {
      const refused = edgeRefusal.address(display, address);
      if (refused) throw refused;
    }
  }
  return addresses[0]!;
}

async function lookupAll(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
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
