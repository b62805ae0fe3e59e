// Compile-time proof (run by `tsc -p type-tests`): the runtime's connect, as
// @cloudflare/workers-types declares it, is a sockkit Connect with no wrapping.
import { connect } from "cloudflare:sockets";
import type { Connect, SocketLike, SocketOptions } from "@sockkit/core";

export const asConnect: Connect = connect;
export const socket: SocketLike = connect("example.com:443", { secureTransport: "on", allowHalfOpen: false });

// The other direction: sockkit callers may leave allowHalfOpen out.
export const options: SocketOptions = { secureTransport: "starttls" };
export const viaCore = (c: Connect) => c({ hostname: "db.internal", port: 5432 }, options);
viaCore(connect);

// The check can fail: a function of the wrong shape is not a Connect.
// @ts-expect-error returns a string, not a socket
export const wrongReturn: Connect = (_address: string) => "not a socket";
