/**
 * `@sockkit/core/transport`: workerd's socket behaviour over a runtime's own sockets, for adapters.
 * A runtime supplies a {@link TransportDialer} (open, upgrade, classify errors) and gets a `connect()`.
 */
export { createTransportConnect } from "./connect.js";
export type { TransportConnectOptions } from "./connect.js";
export { closeReadable, SocketReadable } from "./readable.js";
export { TransportSocket } from "./socket.js";
export {
  CONNECT_FAILED,
  CONNECTION_LOST,
  closedBeforeOpen,
  connectFailed,
  connectionLost,
  handshakeFailedAfterStartTls,
  lostBeforeOpen,
  toConnectError,
} from "./workerd-errors.js";
export type { TransportSocketPlan } from "./socket.js";
export type { DialRequest, Transport, TransportDialer, TransportHandlers } from "./types.js";
