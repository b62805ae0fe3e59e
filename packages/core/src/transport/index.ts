/**
 * `@sockkit/core/transport`: workerd's socket behaviour over a runtime's own sockets, for adapters.
 * A runtime supplies a {@link TransportDialer} (open, upgrade, classify errors) and gets a `connect()`.
 */
export { createTransportConnect } from "./connect.js";
export type { TransportConnectOptions } from "./connect.js";
export { CONNECT_FAILED, TransportSocket } from "./socket.js";
export type { TransportSocketPlan } from "./socket.js";
export type { DialRequest, Transport, TransportDialer, TransportHandlers } from "./types.js";
