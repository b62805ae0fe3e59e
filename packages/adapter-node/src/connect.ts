import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import {
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
import type { SocketPlan } from "./plan.js";
import { NodeSocket } from "./socket.js";
import { nodeDecodeUtf8 } from "./text.js";
import { connectFailed } from "./workerd-errors.js";

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
   * Behave as Cloudflare's edge does where local development would rather not: refuse what the edge
   * refuses (port 25; loopback, private, link-local and other non-public addresses, checked after
   * DNS; refusals reject `opened` with `code: "EDESTINATION_DENIED"`), and let `close()` wait for a
   * connection or TLS handshake still under way, as workerd's does. `true` turns on both with their
   * defaults; an object chooses (see {@link EdgeRules}).
   * @default false (local development usually talks to 127.0.0.1, and tests should not hang)
   */
  edgeRules?: boolean | EdgeRules;
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
  /**
   * What a TLS server that closes the TCP connection without a TLS close_notify (many do) looks like.
   * `"lost"`: as in workerd, the data is read, then reads reject with "Network connection lost.";
   * TLS then runs through Node's JS stream glue, which costs about 60 % more CPU instructions per
   * small TLS round trip than Node's own TLS (bulk transfers about the same; bench/RESULTS.md).
   * `"end"`: Node's own TLS socket, faster; such a close then ends the reader like a clean end, as
   * Node reports it (a listed difference from workerd). Plain TCP is not affected either way.
   * @default "lost"
   */
  uncleanTlsClose?: "lost" | "end";
}

/** The parts of `edgeRules`; `edgeRules: true` is `{}`. */
export interface EdgeRules {
  /**
   * Refuse port 25 and non-public addresses, as the edge does (local workerd refuses port 25 only).
   * @default true
   */
  refuseDestinations?: boolean;
  /**
   * How long `close()` waits for a connection or TLS handshake still under way before it gives up as
   * without `edgeRules` (rejecting `opened` with `ECONNECT`). workerd's `close()` waits for it without
   * a bound: for a server that never answers the TLS handshake, `close()`, `opened` and `closed` all
   * stay pending (past 40 s in local workerd), so code that awaits `close()` there hangs. A bound keeps
   * tests from hanging while still showing the wait; 0 turns the wait off.
   * @default 10000
   */
  closeWaitMs?: number;
}

/** Default {@link EdgeRules.closeWaitMs}. */
const EDGE_CLOSE_WAIT_MS = 10_000;

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
  const edge = parseEdgeRules(settings.edgeRules);
  const checks: TargetChecks = {
    edgeRules: edge?.refuseDestinations ?? false,
    policies,
    resolve: settings.resolve ?? lookupAll,
  };
  const closeWaitMs = edge?.closeWaitMs ?? 0;
  const uncleanTlsClose = settings.uncleanTlsClose ?? "lost";
  if (uncleanTlsClose !== "lost" && uncleanTlsClose !== "end") {
    throw new TypeError(`uncleanTlsClose must be "lost" or "end", got ${String(uncleanTlsClose)}`);
  }

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
          ? Promise.reject(connectFailed(display, unreachable))
          : resolveTarget(hostname, port, display, checks),
      closeWaitMs,
      uncleanTlsClose,
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
  if (hostname === "") throw connectFailed(display, "empty hostname");
  if (port === 0) throw connectFailed(display, "port 0");
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
      throw connectFailed(display, String((cause as Error)?.message ?? cause), cause);
    },
  );
  for (const policy of policies) {
    const decision = policy.checkResolved(hostname, port, found);
    if (!decision.allowed) throw new DestinationDeniedError(display, decision.reason);
  }
  if (found.length === 0) throw connectFailed(display, `${hostname} resolved to no address`);
  const addresses = found.map((address) => {
    // The canonical form of what was checked (::ffff:10.0.0.1 is 10.0.0.1); a
    // resolver answer that is not an address at all is refused.
    try {
      return canonicalizeHost(address);
    } catch {
      throw connectFailed(display, `${hostname} resolved to something that is not an address`);
    }
  });
  if (addresses.some((a) => a.kind === "name"))
    throw connectFailed(display, `${hostname} resolved to something that is not an address`);
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

function parseEdgeRules(value: NodeConnectOptions["edgeRules"]): Required<EdgeRules> | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { refuseDestinations: true, closeWaitMs: EDGE_CLOSE_WAIT_MS };
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`edgeRules must be a boolean or an object, got ${String(value)}`);
  }
  const closeWaitMs = value.closeWaitMs ?? EDGE_CLOSE_WAIT_MS;
  if (typeof closeWaitMs !== "number" || Number.isNaN(closeWaitMs) || closeWaitMs < 0) {
    throw new TypeError(`edgeRules.closeWaitMs must be a non-negative number, got ${String(closeWaitMs)}`);
  }
  return { refuseDestinations: value.refuseDestinations !== false, closeWaitMs };
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
