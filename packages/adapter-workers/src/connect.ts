// The only file in sockkit that imports `cloudflare:sockets`.
import { connect as runtimeConnect } from "cloudflare:sockets";
import type { Connect } from "@sockkit/core";
import { forwardCapabilities, withDestinationPolicy, type CapableConnect } from "@sockkit/core/adapter";
import { wrapSocket } from "./wrap.js";

// Under @sockkit/adapter-node/register-workerd, cloudflare:sockets is Node's emulation, whose
// connect carries Node's UTF-8 decoder: the wrapper keeps it.
/**
 * `connect()` from `cloudflare:sockets`, with the runtime's code-less errors
 * mapped to sockkit's codes (`"proxy request failed…"` becomes a
 * `ConnectError` with `code: "ECONNECT"`, the original kept as `cause`).
 */
export const connect: CapableConnect = forwardCapabilities(runtimeConnect, (address, options) =>
  wrapSocket(runtimeConnect(address, { allowHalfOpen: false, ...options }), address),
);

// A Worker cannot resolve names; the runtime does, and Cloudflare's edge
// refuses private and Cloudflare addresses itself. So names that
// `publicOnly` admits pass to the runtime unchanged (see guardConnect).
connect[withDestinationPolicy] = () => connect;

/** The runtime's own `connect`, unwrapped: already a `Connect`. */
export const rawConnect: Connect = runtimeConnect;
