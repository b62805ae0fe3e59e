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
  isSockkitError,
} from "./errors.js";
export type { SockkitErrorCode, SockkitErrorOptions } from "./errors.js";
export { parseSocketAddress } from "./address.js";
export type { ParsedAddress } from "./address.js";
