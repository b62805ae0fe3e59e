// `@sockkit/core`: the socket contract, the errors, the patterns and the destination policy.
// Protocol clients are in `@sockkit/core/redis` and `@sockkit/core/mqtt`; what only adapters and
// wrappers of a `Connect` need is in `@sockkit/core/adapter`.
export type {
  Connect,
  SecureTransport,
  SocketAddress,
  SocketInfo,
  SocketLike,
  SocketOptions,
  TlsOptions,
} from "./types.js";

// Every error class core's root and its clients share, in one place (the MQTT client's own
// reason-code errors are in `@sockkit/core/mqtt`). Branch on `code` with isSockkitError.
export {
  AllAttemptsFailedError,
  ClosedError,
  ConnectError,
  DestinationDeniedError,
  PoolError,
  ProtocolError,
  ReplyError,
  SockkitError,
  TimeoutError,
  TlsError,
  TooLargeError,
  TruncatedError,
  isSockkitError,
} from "./errors.js";
export type { AttemptFailure, SockkitErrorCode, SockkitErrorOptions } from "./errors.js";

// Patterns.
export { connectWithTimeout } from "./connect-with-timeout.js";
export type { ConnectTimeoutOptions } from "./connect-with-timeout.js";
export { connectWithRetry, isPermanentConnectError } from "./retry.js";
export type { RetryEvent, RetryOptions } from "./retry.js";
export { connectWithFallback } from "./fallback.js";
export type { FallbackOptions } from "./fallback.js";
export { requestResponse } from "./request-response.js";
export type { ReplyFraming, RequestResponseOptions } from "./request-response.js";
export { pipeToSocket, toResponse } from "./streaming.js";
export type { PipeToSocketOptions } from "./streaming.js";
export { SocketPool } from "./pool.js";
export type { PooledSocket, SocketPoolOptions, SocketPoolStats } from "./pool.js";
export { FramedReader } from "./framed-reader.js";
export type { FramedReaderOptions, ReadUntilOptions } from "./framed-reader.js";
export { readAll } from "./read-all.js";
export type { ReadAllOptions } from "./read-all.js";

// Destination policy.
export { createAllowlist, createDestinationPolicy } from "./destination/policy.js";
export type {
  AllowedDestination,
  DeniedDestination,
  DestinationDecision,
  DestinationPolicy,
  DestinationPolicyOptions,
  DestinationRule,
} from "./destination/policy.js";
export type { PortSpec } from "./destination/ports.js";
export { guardConnect } from "./destination/guard.js";
export type { GuardOptions } from "./destination/guard.js";
export { TRACING_CHANNELS } from "./tracing.js";
export type { ConnectTrace, MqttConnectTrace, MqttPublishTrace, RedisCommandTrace } from "./tracing.js";
