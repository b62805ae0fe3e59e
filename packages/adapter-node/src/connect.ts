import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import {
  ConnectError,
  DestinationDeniedError,
  type Connect,
  type DestinationPolicy,
  type SecureTransport,
  type SocketAddress,
  type SocketLike,
  type SocketOptions,
} from "@sockkit/core";
import diagnostics from "node:diagnostics_channel";
import {
  canonicalizeHost,
  diagnosticsChannel,
  parseSocketAddress,
  utf8Decoder,
  withDestinationPolicy,
  type PolicyAwareConnect,
  type TextAwareConnect,
  type TraceableConnect,
} from "@sockkit/core/adapter";
import { edgeRefusal } from "./edge-rules.js";
import { CONNECT_FAILED, NodeSocket, type SocketPlan } from "./socket.js";
import { nodeDecodeUtf8 } from "./text.js";

/** What this adapter's `connect` is: `cloudflare:sockets`' signature plus two optional capabilities core's clients look for. */
export type NodeConnect = PolicyAwareConnect & TextAwareConnect & TraceableConnect;

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
export function createConnect(settings: NodeConnectOptions = {}): NodeConnect {
  const tlsOptions = withExtraCa(settings.tls ?? {});
  const policies = settings.policy === undefined ? [] : [settings.policy];
  return connectWithChecks(settings, tlsOptions, policies);
}

function connectWithChecks(
  settings: NodeConnectOptions,
  tlsOptions: tls.ConnectionOptions,
  policies: DestinationPolicy[],
): NodeConnect {
  for (const policy of policies) {
    if (typeof policy?.check !== "function") {
      throw new TypeError(
        "policy must be a DestinationPolicy (createDestinationPolicy or createAllowlist from @sockkit/core)",
      );
    }
  }
  const checks: TargetChecks = {
    edgeRules: settings.edgeRules === true,
    policies,
    resolve: settings.resolve ?? lookupAll,
  };

  const connect: NodeConnect = function connect(address: string | SocketAddress, options?: SocketOptions): SocketLike {
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
  // Lets guardConnect() hand the DNS part of a policy to this adapter; a
  // policy this connect already has keeps applying too.
  connect[withDestinationPolicy] = (policy: DestinationPolicy) =>
    connectWithChecks(settings, tlsOptions, [...policies, policy]);
  // Lets the Redis client decode replies with Node's native UTF-8 decoder.
  if (nodeDecodeUtf8) connect[utf8Decoder] = nodeDecodeUtf8;
  // Lets sockkit's clients publish on Node's tracing channels (sockkit:connect, sockkit:redis:command…).
  connect[diagnosticsChannel] = diagnostics;
  return connect;
}

/** `connect()` with Node's defaults: the drop-in for `cloudflare:sockets`' `connect`. */
export const connect: NodeConnect = createConnect();

interface TargetChecks {
  edgeRules: boolean;
  policies: readonly DestinationPolicy[];
  resolve: (hostname: string) => Promise<readonly string[]>;
}

/** What to dial, after every check (see SocketPlan.resolveTarget); rejects with the refusal. */
async function resolveTarget(
  hostname: string,
  port: number,
  display: string,
  checks: TargetChecks,
): Promise<string | readonly string[]> {
  // Node would read an empty host as localhost and reject port 0 with a
  // synchronous RangeError; workerd rejects `opened` for both.
  if (hostname === "") throw new ConnectError(display, `${CONNECT_FAILED} (empty hostname)`);
  if (port === 0) throw new ConnectError(display, `${CONNECT_FAILED} (port 0)`);
  const { edgeRules, policies } = checks;
  let target = hostname;
  let policyResolves = false;
  for (const policy of policies) {
    const decision = policy.check(hostname, port);
    if (!decision.allowed) throw new DestinationDeniedError(display, decision.reason);
    // Dial the canonical form the policy judged (127.0.0.1 for 2130706433), never a second reading of it.
    if (decision.kind !== "name") target = decision.host;
    policyResolves ||= decision.resolve;
  }
  const mustResolve = policyResolves || (edgeRules && !net.isIP(target));
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

  // Resolve once; only the addresses checked here may be dialled, so a name
  // rebound between the check and the connection cannot slip through.
  const found = await checks.resolve(hostname).then(
    (list) => [...list],
    (cause: unknown) => {
      throw new ConnectError(display, `${CONNECT_FAILED} (${String((cause as Error)?.message ?? cause)})`, { cause });
    },
  );
  for (const policy of policies) {
    const decision = policy.checkResolved(hostname, port, found);
    if (!decision.allowed) throw new DestinationDeniedError(display, decision.reason);
  }
  if (found.length === 0) throw new ConnectError(display, `${CONNECT_FAILED} (${hostname} resolved to no address)`);
  const addresses = found.map((address) => {
    // The canonical form of what was checked (::ffff:10.0.0.1 is 10.0.0.1); a
    // resolver answer that is not an address at all is refused.
    try {
      return canonicalizeHost(address);
    } catch {
      throw new ConnectError(display, `${CONNECT_FAILED} (${hostname} resolved to something that is not an address)`);
    }
  });
  if (addresses.some((a) => a.kind === "name"))
    throw new ConnectError(display, `${CONNECT_FAILED} (${hostname} resolved to something that is not an address)`);
  if (edgeRules) {
    for (const { host } of addresses) {
      const refused = edgeRefusal.address(display, host);
      if (refused) throw refused;
    }
  }
  return addresses.map((a) => a.host);
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
