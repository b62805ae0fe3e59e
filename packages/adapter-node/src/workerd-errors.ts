import {
  closedBeforeOpen,
  connectFailed,
  connectionLost,
  handshakeFailedAfterStartTls,
  lostBeforeOpen,
  toConnectError as shapeConnectError,
} from "@sockkit/core/transport";

// workerd's error shapes are written once, in @sockkit/core/transport; this file adds what Node's errors need.
export { closedBeforeOpen, connectFailed, connectionLost, handshakeFailedAfterStartTls, lostBeforeOpen };

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_|ERR_OSSL_)/;

function isTlsFailure(cause: unknown): boolean {
  const code = String((cause as { code?: unknown } | null)?.code ?? "");
  const reason = (cause as { reason?: unknown } | null)?.reason;
  const detail = typeof reason === "string" && reason !== "" ? reason : cause instanceof Error ? cause.message : "";
  return TLS_CODE.test(code) || /\b(SSL|TLS|certificate)\b/i.test(detail);
}

/** What `opened` rejects with for a failure Node reported (`ETLS` for a TLS failure, else `ECONNECT`). */
export function toConnectError(display: string, cause: unknown): Error {
  return shapeConnectError(display, cause, isTlsFailure(cause));
}

const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
export function isReset(error: Error): boolean {
  return RESET_CODES.has((error as NodeJS.ErrnoException).code ?? "");
}

/**
 * A failed write: a reset, or a socket the runtime has closed (Bun's node:tls fails writes with EBADF
 * once the peer's close_notify closed its side), becomes the `TypeError` workerd's closed stream gives;
 * anything else passes.
 */
export function closedWriteError(error: Error): Error {
  if (isReset(error)) return new TypeError("The socket was reset by the peer.", { cause: error });
  if ((error as NodeJS.ErrnoException).code === "EBADF") {
    return new TypeError("This WritableStream has been closed.", { cause: error });
  }
  return error;
}
