export type {
  Connect,
  SecureTransport,
  SocketAddress,
  SocketInfo,
  SocketLike,
  SocketOptions,
  TlsOptions,
} from "./types.js";
export {
  ConnectError,
  DestinationDeniedError,
  SockkitError,
  TimeoutError,
  TlsError,
  asConnectError,
  isSockkitError,
} from "./errors.js";
export type { SockkitErrorCode, SockkitErrorOptions } from "./errors.js";
export { parseSocketAddress } from "./address.js";
export type { ParsedAddress } from "./address.js";
export { ClosedError, ProtocolError, ReplyError, TooLargeError, TruncatedError } from "./errors.js";
export { FramedReader } from "./framed-reader.js";
export type { FramedReaderOptions, ReadUntilOptions } from "./framed-reader.js";
export { readAll } from "./read-all.js";
export type { ReadAllOptions } from "./read-all.js";
export { connectWithTimeout } from "./connect-with-timeout.js";
export type { ConnectTimeoutOptions } from "./connect-with-timeout.js";
export { AllAttemptsFailedError } from "./errors.js";
export type { AttemptFailure } from "./errors.js";
export { connectWithRetry, isPermanentConnectError } from "./retry.js";
export type { RetryEvent, RetryOptions } from "./retry.js";
export { connectWithFallback } from "./fallback.js";
export type { FallbackOptions } from "./fallback.js";
export { requestResponse } from "./request-response.js";
export type { ReplyFraming, RequestResponseOptions } from "./request-response.js";
export { describeAddress } from "./address.js";
export { pipeToSocket, toResponse } from "./streaming.js";
export type { PipeToSocketOptions } from "./streaming.js";
export { PoolError, SocketPool } from "./pool.js";
export type { PooledSocket, SocketPoolOptions, SocketPoolStats } from "./pool.js";
export { canonicalizeHost } from "./destination/host.js";
export type { CanonicalHost } from "./destination/host.js";
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
export { deniedSocket, guardConnect, withDestinationPolicy } from "./destination/guard.js";
export type { GuardOptions, PolicyAwareConnect } from "./destination/guard.js";
export { decodeUtf8, utf8Decoder, utf8DecoderOf } from "./text.js";
export type { DecodeUtf8, TextAwareConnect } from "./text.js";
