// The optional capabilities a `Connect` may carry (symbol-keyed properties that core's clients and
// guardConnect look for), and the one helper that passes them from a connect to a wrapper of it.
import type { DestinationPolicy } from "./destination/policy.js";
import type { DecodeUtf8 } from "./text.js";
import type { Connect } from "./types.js";

/**
 * Optional capability of a `Connect`: given a policy, return a `Connect` that
 * resolves each name the policy must see the addresses of, checks every
 * address, and dials the checked one (keeping the name for TLS).
 * `@sockkit/adapter-node`'s connect has it; `guardConnect` uses it.
 */
export const withDestinationPolicy: unique symbol = Symbol.for("sockkit.withDestinationPolicy") as never;

/**
 * Optional capability of a `Connect`: a runtime's own, faster UTF-8 decoder
 * with the {@link DecodeUtf8} contract. The Redis client decodes replies with
 * it. `@sockkit/adapter-node`'s connect has one (Node's native decoder, which
 * needs no view of the bytes per string); without it `decodeUtf8` is used.
 */
export const utf8Decoder: unique symbol = Symbol.for("sockkit.utf8Decoder") as never;

/**
 * Optional capability of a `Connect`: the runtime's `node:diagnostics_channel` (or anything with
 * its `tracingChannel()`), through which sockkit publishes TracingChannel events
 * (`sockkit:gateway:request`). A host that has one sets it; without it nothing is published.
 */
export const diagnosticsChannel: unique symbol = Symbol.for("sockkit.diagnosticsChannel") as never;

/** What sockkit uses of a `node:diagnostics_channel` TracingChannel. */
export interface TracingChannelLike<C extends object = object> {
  /** False when nobody listens: the traced code then runs without building any event. */
  readonly hasSubscribers?: boolean;
  readonly error: { publish(message: unknown): void };
  tracePromise<T>(fn: () => Promise<T>, context?: C): Promise<T>;
}

/** What sockkit uses of `node:diagnostics_channel`. */
export interface DiagnosticsChannelLike {
  tracingChannel<C extends object = object>(name: string): TracingChannelLike<C>;
}

/** A `Connect` that may carry the {@link diagnosticsChannel} capability. */
export type TracedConnect = Connect & { [diagnosticsChannel]?: DiagnosticsChannelLike };

/** A `Connect` that may carry the {@link withDestinationPolicy} capability. */
export type PolicyAwareConnect = Connect & { [withDestinationPolicy]?: (policy: DestinationPolicy) => Connect };

/** A `Connect` that may carry the {@link utf8Decoder} capability. */
export type TextAwareConnect = Connect & { [utf8Decoder]?: DecodeUtf8 };

/** A `Connect` that may carry any of sockkit's capabilities. */
export type CapableConnect = PolicyAwareConnect & TextAwareConnect & TracedConnect;

/**
 * Passes `inner`'s capabilities on to `wrapper`, a `Connect` that calls `inner`, and returns `wrapper`.
 *
 * - `utf8Decoder` always: a wrapper that passes bytes through unchanged reads them as `inner` does.
 * - `diagnosticsChannel` always: a wrapper is traced where `inner` is.
 * - `withDestinationPolicy` only when `rewrap` is given: a function that wraps any connect the way
 *   `wrapper` wraps `inner`. The policy-checking connect `inner` returns is then wrapped in turn (and
 *   carries the capabilities too), so a logging or metrics wrapper keeps name resolution under
 *   `guardConnect`. Without `rewrap` the capability is left behind, as it must be for a wrapper that
 *   decides destinations itself (`guardConnect`): a second policy handed to `inner` would skip it.
 *
 * A capability `inner` lacks is left unset on `wrapper`, so a wrapper that declares one of its own
 * sets it after this call.
 */
export function forwardCapabilities<T extends Connect>(
  inner: Connect,
  wrapper: T,
  rewrap?: (inner: Connect) => Connect,
): T & CapableConnect {
  const source = inner as CapableConnect;
  const target = wrapper as T & CapableConnect;
  const decoder = source[utf8Decoder];
  if (typeof decoder === "function") target[utf8Decoder] = decoder;
  const channels = source[diagnosticsChannel];
  if (channels !== undefined) target[diagnosticsChannel] = channels;
  const policyAware = source[withDestinationPolicy];
  if (rewrap !== undefined && typeof policyAware === "function") {
    target[withDestinationPolicy] = (policy) => {
      const checked = policyAware.call(inner, policy);
      return forwardCapabilities(checked, rewrap(checked), rewrap);
    };
  }
  return target;
}
