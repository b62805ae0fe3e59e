/**
 * Errors shared by every sockkit package. Branch on `code`, not on
 * `instanceof`: a bundle can hold two builds of this file (ESM and CJS, or two
 * versions), and `instanceof` fails across them while `code` does not.
 */

/** Every stable error code sockkit produces. */
export type SockkitErrorCode =
  /** The connection could not be made (refused, unreachable, unknown host, proxy refusal). */
  | "ECONNECT"
  /** A deadline passed. */
  | "ETIMEDOUT"
  /** The destination policy (or the emulated edge rules) refused the address. */
  | "EDESTINATION_DENIED"
  /** The TLS handshake or certificate verification failed. */
  | "ETLS"
  /** The stream ended before a complete frame or reply arrived. */
  | "ETRUNCATED"
  /** A reply or frame grew past its `maxBytes` limit. */
  | "ETOOLARGE"
  /** The peer broke the protocol (a malformed frame); the connection was closed. */
  | "EPROTOCOL"
  /** The connection closed (or was closed) before the operation completed. */
  | "ECLOSED"
  /** The server answered with an error reply (e.g. Redis `WRONGTYPE …`). */
  | "EREPLY";

export interface SockkitErrorOptions {
  cause?: unknown;
}

/** Base class: every error sockkit creates carries a stable `code`. */
export class SockkitError extends Error {
  readonly code: SockkitErrorCode;

  constructor(code: SockkitErrorCode, message: string, options?: SockkitErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** The connection could not be established. `cause` holds the runtime's own error. */
export class ConnectError extends SockkitError {
  /** The address as the caller gave it. */
  readonly address: string;
  constructor(address: string, message: string, options?: SockkitErrorOptions) {
    super("ECONNECT", message, options);
    this.address = address;
  }
}

/** A deadline passed before the operation completed. */
export class TimeoutError extends SockkitError {
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: SockkitErrorOptions) {
    super("ETIMEDOUT", message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** A destination was refused before any byte was sent. */
export class DestinationDeniedError extends SockkitError {
  /** The address as the caller gave it. */
  readonly address: string;
  /** Why it was refused, e.g. `"port 25 is blocked"`. */
  readonly reason: string;
  constructor(address: string, reason: string, options?: SockkitErrorOptions) {
    super("EDESTINATION_DENIED", `connection to ${address} denied: ${reason}`, options);
    this.address = address;
    this.reason = reason;
  }
}

/** The TLS handshake or certificate verification failed. */
export class TlsError extends SockkitError {
  constructor(message: string, options?: SockkitErrorOptions) {
    super("ETLS", message, options);
  }
}

/**
 * The stream ended before a complete frame arrived. In workerd a peer reset
 * ends a reader exactly like a clean EOF, so this (framing) is the only sign
 * that a reply was cut short.
 */
export class TruncatedError extends SockkitError {
  /** Bytes of the incomplete frame that did arrive. */
  readonly received: number;
  constructor(message: string, received: number) {
    super("ETRUNCATED", message);
    this.received = received;
  }
}

/** A frame or reply grew past its limit; nothing beyond the limit was buffered. */
export class TooLargeError extends SockkitError {
  /** The limit that was passed, in bytes. */
  readonly maxBytes: number;
  constructor(message: string, maxBytes: number) {
    super("ETOOLARGE", message);
    this.maxBytes = maxBytes;
  }
}

/** The peer sent something the protocol does not allow; the connection is closed. */
export class ProtocolError extends SockkitError {
  constructor(message: string, options?: SockkitErrorOptions) {
    super("EPROTOCOL", message, options);
  }
}

/** The connection closed, or was closed, before the operation completed. */
export class ClosedError extends SockkitError {
  constructor(message: string, options?: SockkitErrorOptions) {
    super("ECLOSED", message, options);
  }
}

/**
 * The server answered with an error reply. `prefix` is its first word
 * (`"WRONGTYPE"`, `"NOSCRIPT"`, `"ERR"`), which is what callers branch on.
 */
export class ReplyError extends SockkitError {
  /** The first word of the server's message, e.g. `"WRONGTYPE"`. */
  readonly prefix: string;
  /** The command that failed (name only, never its arguments: they may hold secrets). */
  command: string | undefined;
  constructor(message: string) {
    super("EREPLY", message);
    const space = message.indexOf(" ");
    this.prefix = space === -1 ? message : message.slice(0, space);
    this.command = undefined;
  }
}

/** One failed attempt of a retry or fallback. */
export interface AttemptFailure {
  /** The address as given. */
  address: string;
  error: unknown;
}

/**
 * Every address (or attempt) failed. `code` is `"ECONNECT"`, so callers branch
 * as for a single failure; `failures` says which address failed and why.
 */
export class AllAttemptsFailedError extends SockkitError {
  readonly failures: readonly AttemptFailure[];
  constructor(failures: readonly AttemptFailure[]) {
    const detail = failures.map((f) => `${f.address}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
    super("ECONNECT", `all ${failures.length} connection attempts failed (${detail.join("; ")})`, {
      cause: failures.at(-1)?.error,
    });
    this.failures = failures;
  }
}

/** `pool.acquire()` refused: the pool is draining, or too many callers wait. */
export class PoolError extends SockkitError {
  constructor(message: string) {
    super("ECONNECT", message);
  }
}

/**
 * `cause` as an error with a code: sockkit errors and synchronous `TypeError`s
 * (bad input) pass unchanged; anything else (the runtime's code-less connect
 * failure, e.g. workerd's "proxy request failed") becomes a `ConnectError`.
 * For clients that promise coded errors; `connectWithTimeout` itself passes
 * the runtime's error through.
 */
export function asConnectError(cause: unknown, address: string, what = "connecting"): Error {
  if (isSockkitError(cause) || cause instanceof TypeError) return cause as Error;
  return new ConnectError(address, `${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

/**
 * True when `error` is a sockkit error (from any build of this package),
 * optionally with the given code.
 */
export function isSockkitError(error: unknown, code?: SockkitErrorCode): error is SockkitError {
  if (typeof error !== "object" || error === null) return false;
  const c = (error as { code?: unknown }).code;
  if (typeof c !== "string" || !(error instanceof Error)) return false;
  return code === undefined ? KNOWN_CODES.has(c) : c === code;
}

const KNOWN_CODES: ReadonlySet<string> = new Set<SockkitErrorCode>([
  "ECONNECT",
  "ETIMEDOUT",
  "EDESTINATION_DENIED",
  "ETLS",
  "ETRUNCATED",
  "ETOOLARGE",
  "EPROTOCOL",
  "ECLOSED",
  "EREPLY",
]);
