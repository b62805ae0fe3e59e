// `@sockkit/core/adapter`: what code that implements or wraps a `Connect` needs (runtime adapters,
// protocol clients, a gateway). Applications use the root: `@sockkit/core`.
export { describeAddress, parseSocketAddress } from "./address.js";
export type { ParsedAddress } from "./address.js";
export { diagnosticsChannel, forwardCapabilities, utf8Decoder, withDestinationPolicy } from "./capabilities.js";
export type { CapableConnect, PolicyAwareConnect, TextAwareConnect, TraceableConnect } from "./capabilities.js";
export { subscribed, tracingOf } from "./tracing.js";
export type { DiagnosticsChannels, Tracing, TracingChannelLike } from "./tracing.js";
export { deniedSocket } from "./destination/guard.js";
export { canonicalizeHost } from "./destination/host.js";
export type { CanonicalHost } from "./destination/host.js";
export { asConnectError } from "./errors.js";
export { decodeUtf8, utf8DecoderOf } from "./text.js";
export { deferred } from "./deferred.js";
export type { Deferred } from "./deferred.js";
export { settledWithin } from "./timer.js";
export type { DecodeUtf8 } from "./text.js";
