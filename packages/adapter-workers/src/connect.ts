// The only file in sockkit that imports `cloudflare:sockets`.
import { connect as runtimeConnect } from "cloudflare:sockets";
import type { Connect } from "@sockkit/core";
import {
  diagnosticsChannel,
  forwardCapabilities,
  withDestinationPolicy,
  type CapableConnect,
  type DiagnosticsChannels,
} from "@sockkit/core/adapter";
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

// Tracing needs node:diagnostics_channel, which a Worker has only with the nodejs_compat flag: it is
// asked for at run time (no import a bundler would need to resolve), and left out without the flag.
if (connect[diagnosticsChannel] === undefined) {
  Object.defineProperty(connect, diagnosticsChannel, {
    configurable: true,
    get: () => {
      const process = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process;
      return process?.getBuiltinModule?.("node:diagnostics_channel") as DiagnosticsChannels | undefined;
    },
  });
}

/** The runtime's own `connect`, unwrapped: already a `Connect`. */
export const rawConnect: Connect = runtimeConnect;
