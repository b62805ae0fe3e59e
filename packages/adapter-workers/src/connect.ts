// The only file in sockkit that imports `cloudflare:sockets`.
import { connect as runtimeConnect } from "cloudflare:sockets";
import type { Connect } from "@sockkit/core";
import { wrapSocket } from "./wrap.js";

/**
 * `connect()` from `cloudflare:sockets`, with the runtime's code-less errors
 * mapped to sockkit's codes (`"proxy request failed…"` becomes a
 * `ConnectError` with `code: "ECONNECT"`, the original kept as `cause`).
 */
export const connect: Connect = (address, options) =>
  wrapSocket(runtimeConnect(address, { allowHalfOpen: false, ...options }), address);

/** The runtime's own `connect`, unwrapped: already a `Connect`. */
export const rawConnect: Connect = runtimeConnect;
