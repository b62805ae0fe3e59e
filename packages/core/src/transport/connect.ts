import { parseSocketAddress } from "../address.js";
import { utf8Decoder, withDestinationPolicy, type PolicyAwareConnect, type TextAwareConnect } from "../capabilities.js";
import { canonicalizeHost } from "../destination/host.js";
import type { DestinationPolicy } from "../destination/policy.js";
import { DestinationDeniedError } from "../errors.js";
import type { DecodeUtf8 } from "../text.js";
import type { SecureTransport, SocketAddress, SocketLike, SocketOptions } from "../types.js";
import { TransportSocket } from "./socket.js";
import type { TransportDialer } from "./types.js";
import { connectFailed } from "./workerd-errors.js";

/** Settings for {@link createTransportConnect}. */
export interface TransportConnectOptions {
  /** The runtime's way to open and upgrade connections. */
  dialer: TransportDialer;
  /**
   * A destination policy (`createDestinationPolicy` / `createAllowlist`) applied before any I/O. A name
   * that `publicOnly` must judge by its addresses is resolved first with `resolve`, every address is
   * checked, and the checked addresses are the only ones dialled (TLS still verifies the name).
   * `guardConnect(connect, policy)` reaches this too.
   * @default undefined (no policy)
   */
  policy?: DestinationPolicy;
  /**
   * Resolves a name to its addresses when `policy` must see them.
   * @default none: a policy that must resolve a name then refuses it (pass the runtime's resolver)
   */
  resolve?: (hostname: string) => Promise<readonly string[]>;
  /**
   * The runtime's own UTF-8 decoder, if faster than TextDecoder there; it must decode exactly as
   * `new TextDecoder("utf-8", { ignoreBOM: true })`. Every connect made here carries it as the
   * `utf8Decoder` capability (the Redis client uses it for replies).
   * @default undefined (clients use core's decodeUtf8)
   */
  decodeUtf8?: DecodeUtf8;
}

/** Writable high-water mark when `highWaterMark` is not given: workerd's `writer.desiredSize` starts at 1. */
const DEFAULT_WRITABLE_HIGH_WATER_MARK = 1;

/**
 * A `connect()` with `cloudflare:sockets`' signature and workerd's behaviour over a runtime's own
 * sockets (`options.dialer`). It has the `withDestinationPolicy` capability.
 */
export function createTransportConnect(options: TransportConnectOptions): PolicyAwareConnect & TextAwareConnect {
  const { dialer } = options;
  if (typeof dialer?.open !== "function") throw new TypeError("createTransportConnect() needs a dialer");
  return connectWithPolicies(options, options.policy === undefined ? [] : [options.policy]);
}

function connectWithPolicies(
  options: TransportConnectOptions,
  policies: DestinationPolicy[],
): PolicyAwareConnect & TextAwareConnect {
  for (const policy of policies) {
    if (typeof policy?.check !== "function") {
      throw new TypeError(
        "policy must be a DestinationPolicy (createDestinationPolicy or createAllowlist from @sockkit/core)",
      );
    }
  }
  const connect: PolicyAwareConnect & TextAwareConnect = function connect(
    address: string | SocketAddress,
    socketOptions?: SocketOptions,
  ): SocketLike {
    const { hostname, port, display, unreachable } = parseSocketAddress(address);
    return new TransportSocket({
      hostname,
      port,
      display,
      secureTransport: parseSecureTransport(socketOptions?.secureTransport),
      allowHalfOpen: socketOptions?.allowHalfOpen === true,
      writableHighWaterMark: parseHighWaterMark(socketOptions?.highWaterMark),
      dialer: options.dialer,
      resolveTarget: () =>
        unreachable
          ? Promise.reject(connectFailed(display, unreachable))
          : resolveTarget(hostname, port, display, policies, options.resolve),
    });
  };
  // Lets guardConnect() hand the DNS part of a policy to this connect; a policy it already has keeps applying.
  connect[withDestinationPolicy] = (policy: DestinationPolicy) => connectWithPolicies(options, [...policies, policy]);
  if (options.decodeUtf8) connect[utf8Decoder] = options.decodeUtf8;
  return connect;
}

/** What to dial, after every check; rejects with the refusal. */
async function resolveTarget(
  hostname: string,
  port: number,
  display: string,
  policies: readonly DestinationPolicy[],
  resolve: TransportConnectOptions["resolve"],
): Promise<readonly string[]> {
  // workerd rejects `opened` for an empty host and for port 0.
  if (hostname === "") throw connectFailed(display, "empty hostname");
  if (port === 0) throw connectFailed(display, "port 0");
  let target = hostname;
  let mustResolve = false;
  for (const policy of policies) {
    const decision = policy.check(hostname, port);
    if (!decision.allowed) throw new DestinationDeniedError(display, decision.reason);
    // Dial the canonical form the policy judged (127.0.0.1 for 2130706433), never a second reading of it.
    if (decision.kind !== "name") target = decision.host;
    mustResolve ||= decision.resolve;
  }
  if (!mustResolve) return [target];
  if (!resolve) throw new DestinationDeniedError(display, `${hostname} must be resolved, and no resolver was given`);

  // Resolve once; only the addresses checked here may be dialled, so a name rebound between the
  // check and the connection cannot slip through.
  const found = await resolve(hostname).then(
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
  return found.map((address) => {
    // The canonical form of what was checked (::ffff:10.0.0.1 is 10.0.0.1); anything else is refused.
    let canonical;
    try {
      canonical = canonicalizeHost(address);
    } catch {
      canonical = undefined;
    }
    if (canonical === undefined || canonical.kind === "name") {
      throw connectFailed(display, `${hostname} resolved to something that is not an address`);
    }
    return canonical.host;
  });
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
