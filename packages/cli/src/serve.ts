// The gateway on Node: the same fetch handler the Worker runs, served by
// @hono/node-server (a maintained fetch-to-Node bridge), over adapter-node.
import { serve as serveFetch, type ServerType } from "@hono/node-server";
import { createConnect } from "@sockkit/adapter-node";
import { createGateway, type GatewayOptions } from "@sockkit/gateway";
import type { AddressInfo } from "node:net";

export interface ServeOptions extends Omit<GatewayOptions, "connect"> {
  /** @default 8787 */
  port?: number;
  /** @default "127.0.0.1" */
  hostname?: string;
}

export interface RunningGateway {
  url: string;
  /** Stops accepting, lets requests in progress finish (up to 5 s), then closes. */
  close(): Promise<void>;
}

/** Serves the gateway; resolves once it listens. */
export async function serveGateway(options: ServeOptions = {}): Promise<RunningGateway> {
  const { port = 8787, hostname = "127.0.0.1", ...gatewayOptions } = options;
  // adapter-node's connect carries Node's diagnostics_channel: the gateway publishes sockkit:gateway:request on it.
  const connect = createConnect();
  const gateway = createGateway({ ...gatewayOptions, connect });
  let server!: ServerType;
  await new Promise<void>((resolve, reject) => {
    server = serveFetch(
      {
        // The client's address feeds the per-client concurrency cap.
        fetch: (request, env: { incoming?: { socket?: { remoteAddress?: string } } }) =>
          gateway.fetch(request, { clientAddress: env?.incoming?.socket?.remoteAddress ?? "unknown" }),
        port,
        hostname,
      },
      () => resolve(),
    );
    server.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(
          () => (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(),
          5000,
        );
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      }),
  };
}
