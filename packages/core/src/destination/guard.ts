import { parseSocketAddress } from "../address.js";
import { forwardCapabilities, withDestinationPolicy, type PolicyAwareConnect } from "../capabilities.js";
import { DestinationDeniedError } from "../errors.js";
import type { Connect, SecureTransport, SocketLike, SocketOptions } from "../types.js";
import type { DestinationPolicy } from "./policy.js";

/** Options for {@link guardConnect}. */
export interface GuardOptions {
  /**
   * What to do with a name that `publicOnly` admits only after checking what
   * it resolves to, when `connect` cannot resolve names itself (it lacks the
   * {@link withDestinationPolicy} capability: the runtime's own `connect`
   * on Workers, or a custom one). `"deny"` refuses such names; `"allow"`
   * lets them through unchecked, which is sound on Cloudflare's edge only
   * because the edge itself refuses private and Cloudflare addresses.
   * `@sockkit/adapter-workers`' connect declares exactly that, so with it
   * this option is not consulted.
   * @default "deny"
   */
  unresolvedNames?: "allow" | "deny";
}

/**
 * Wraps `connect` so that every destination passes `policy` before any
 * network I/O. A denied destination gets a socket whose `opened` and
 * `closed` reject with `code: "EDESTINATION_DENIED"` (and the reason); the
 * inner `connect` is never called for it. Malformed addresses throw the same
 * synchronous `TypeError` as `connect`. The inner `connect` receives the
 * canonical host (`127.0.0.1` for `2130706433`), so it cannot read the
 * address differently from the policy.
 */
export function guardConnect(connect: Connect, policy: DestinationPolicy, options: GuardOptions = {}): Connect {
  if (typeof connect !== "function") throw new TypeError("guardConnect() expects a connect function");
  if (typeof policy?.check !== "function")
    throw new TypeError("guardConnect() expects a DestinationPolicy (createDestinationPolicy or createAllowlist)");
  const unresolvedNames = options.unresolvedNames ?? "deny";
  if (unresolvedNames !== "allow" && unresolvedNames !== "deny") {
    throw new TypeError(`unresolvedNames must be "allow" or "deny", got ${String(unresolvedNames)}`);
  }
  const capability = (connect as PolicyAwareConnect)[withDestinationPolicy];
  const resolving = typeof capability === "function" ? capability.call(connect, policy) : undefined;

  const guarded: Connect = function guardedConnect(address, socketOptions) {
    const { hostname, port, display, unreachable } = parseSocketAddress(address);
    const decision = policy.check(hostname, port);
    if (!decision.allowed) return deniedSocket(new DestinationDeniedError(display, decision.reason), socketOptions);
    // An address the runtime accepts but can never reach (an unbracketed IPv6
    // hostname): keep the runtime's own failure rather than repair it.
    if (unreachable) return connect(address, socketOptions);

    const target = { hostname: decision.kind === "ipv6" ? `[${decision.host}]` : decision.host, port };
    if (!decision.resolve) return connect(target, socketOptions);
    if (resolving) return resolving(target, socketOptions);
    if (unresolvedNames === "allow") return connect(target, socketOptions);
    return deniedSocket(
      new DestinationDeniedError(
        display,
        `${decision.host} must be resolved to be checked against publicOnly, and this connect cannot resolve names ` +
          `(use @sockkit/adapter-node's or @sockkit/adapter-workers' connect, or pass unresolvedNames: "allow" where the platform refuses private addresses itself)`,
      ),
      socketOptions,
    );
  };
  // Guarding changes where a socket may go, not how its bytes are read: the decoder passes on, the
  // policy capability does not (a second policy handed to `connect` would skip this one).
  return forwardCapabilities(connect, guarded);
}

/** A socket that failed before it began: every promise rejects with `error`, nothing is opened. */
export function deniedSocket(error: Error, options?: SocketOptions): SocketLike {
  const failed = Promise.reject(error);
  failed.catch(() => {}); // the caller may only look at one of opened/closed
  const secureTransport: SecureTransport =
    options?.secureTransport === "on" || options?.secureTransport === "starttls" ? options.secureTransport : "off";
  return {
    readable: new ReadableStream<Uint8Array>({ start: (controller) => controller.error(error) }),
    writable: new WritableStream<Uint8Array>({ start: (controller) => controller.error(error) }),
    opened: failed as Promise<never>,
    closed: failed as Promise<never>,
    upgraded: false,
    secureTransport,
    close: () => Promise.resolve(),
    startTls() {
      if (secureTransport !== "starttls") {
        throw new TypeError('startTls() can only be called on a socket opened with secureTransport: "starttls"');
      }
      return deniedSocket(error, { secureTransport: "on" });
    },
  };
}
