import {
  ConnectError,
  isSockkitError,
  type SocketAddress,
  type SocketInfo,
  type SocketLike,
  type TlsOptions,
} from "@sockkit/core";

// workerd's wording when a connection cannot be made (refused, unreachable,
// unknown host, blocked destination, failed TLS handshake: it does not say which).
const PROXY_FAILED = /^proxy request failed/;

/**
 * Maps a runtime error to sockkit's codes; anything else passes through. An error that has a
 * sockkit code already (Node's emulation under register-workerd words its errors as workerd's, with
 * `ETLS` or `ECONNECT`) keeps it.
 */
export function mapWorkersError(error: unknown, address: string): unknown {
  if (isSockkitError(error)) return error;
  if (error instanceof Error && !(error instanceof TypeError) && PROXY_FAILED.test(error.message)) {
    return new ConnectError(address, error.message, { cause: error });
  }
  return error;
}

function describe(address: string | SocketAddress): string {
  return typeof address === "string" ? address : `${address.hostname}:${address.port}`;
}

/** A `SocketLike` view of a workerd socket whose `opened`/`closed` carry sockkit codes. */
export function wrapSocket(socket: SocketLike, address: string | SocketAddress): SocketLike {
  const where = describe(address);
  const map = (error: unknown) => {
    throw mapWorkersError(error, where);
  };
  const opened: Promise<SocketInfo> = socket.opened.catch(map);
  const closed: Promise<void> = socket.closed.catch(map);
  // Like the runtime's own promises, an unobserved rejection is not an unhandled one.
  opened.catch(() => {});
  closed.catch(() => {});
  return {
    get readable() {
      return socket.readable;
    },
    get writable() {
      return socket.writable;
    },
    opened,
    closed,
    get upgraded() {
      return socket.upgraded;
    },
    get secureTransport() {
      return socket.secureTransport;
    },
    close: () => socket.close(),
    startTls: (options?: TlsOptions) => wrapSocket(socket.startTls(options), address),
  };
}
