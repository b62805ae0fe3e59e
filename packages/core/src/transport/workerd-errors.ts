import { ClosedError, ConnectError, TlsError, isSockkitError, type SockkitError } from "../errors.js";

// The errors an emulated socket rejects with, shaped as workerd's: a plain `Error` name, workerd's own
// message first (code that recognises failures by workerd's text behaves the same), then the detail
// workerd leaves out, and sockkit's `code` so callers can branch without the text. Shared by the
// transport socket (Bun, Deno) and @sockkit/adapter-node.

/** workerd's message for every failed connection: refused, unreachable, blocked, failed TLS handshake. */
export const CONNECT_FAILED = "proxy request failed, cannot connect to the specified address";
/** workerd's message for a read or write on a connection that failed or was lost. */
export const CONNECTION_LOST = "Network connection lost.";

/** Drops the subclass's own `name`, so the error shows as a plain `Error` (`code` and the class stay). */
function plain<E extends SockkitError>(error: E): E {
  delete (error as { name?: string }).name;
  return error;
}

/** OpenSSL's reason when the runtime gives one ("unexpected message"), else the message. */
function detailOf(cause: unknown): string {
  const reason = (cause as { reason?: unknown } | null)?.reason;
  if (typeof reason === "string" && reason !== "") return reason;
  return cause instanceof Error ? cause.message : String(cause);
}

/** A connection that could not be made: `ECONNECT` with workerd's message. */
export function connectFailed(display: string, detail: string, cause?: unknown): ConnectError {
  return plain(new ConnectError(display, `${CONNECT_FAILED} (${detail})`, cause === undefined ? undefined : { cause }));
}

/**
 * What `opened` rejects with for a failure the runtime reported: sockkit errors and `TypeError`s pass
 * as they are; a TLS failure (`isTls`) is `ETLS`, anything else `ECONNECT`, both with workerd's message
 * and the runtime's error as `cause`.
 */
export function toConnectError(display: string, cause: unknown, isTls: boolean): Error {
  if (isSockkitError(cause) || cause instanceof TypeError) return cause as Error;
  if (isTls) {
    return plain(new TlsError(`${CONNECT_FAILED} (${display}: TLS handshake failed: ${detailOf(cause)})`, { cause }));
  }
  return connectFailed(display, `${display}: ${detailOf(cause)}`, cause);
}

/**
 * workerd's "Network connection lost." (with its `retryable: true`): a write waiting on a connection that
 * failed (the code of that failure, which is the `cause`), or a read or write after a TLS peer closed
 * the TCP connection without a close_notify (`ECLOSED`).
 */
export function connectionLost(display: string, cause: unknown, code?: "ETLS" | "ECONNECT"): SockkitError {
  const error =
    code === undefined
      ? new ClosedError(CONNECTION_LOST, { cause })
      : code === "ETLS"
        ? new TlsError(CONNECTION_LOST, { cause })
        : new ConnectError(display, CONNECTION_LOST, { cause });
  return Object.assign(plain(error), { retryable: true });
}

/**
 * What a write waiting for a connection that failed rejects with: workerd's "Network connection lost."
 * carrying the failure's code; a `TypeError` or a destination refusal passes as it is.
 */
export function lostBeforeOpen(display: string, failure: unknown): unknown {
  if (failure instanceof TypeError || isSockkitError(failure, "EDESTINATION_DENIED")) return failure;
  return connectionLost(display, failure, isSockkitError(failure, "ETLS") ? "ETLS" : "ECONNECT");
}

/**
 * What a write in flight when a handshake after `startTls()` fails rejects with. workerd reports this
 * failure as an unmapped internal error ("internal error; reference = <id>"); the id here is the code.
 */
export function handshakeFailedAfterStartTls(display: string, cause: unknown): TlsError {
  return plain(
    new TlsError(`internal error; reference = ETLS (${display}: TLS handshake failed: ${detailOf(cause)})`, { cause }),
  );
}

/** close() gave up on a connection still being made (workerd's close() would wait for it). */
export function closedBeforeOpen(display: string): ConnectError {
  return plain(new ConnectError(display, "socket closed before the connection was established"));
}
