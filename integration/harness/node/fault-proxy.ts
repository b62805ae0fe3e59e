import net from "node:net";

/** What the proxy does to the upstream's reply on its way to the client. */
export interface Fault {
  /** Delay every reply chunk by this many milliseconds (a slow peer). */
  delayMs?: number;
  /** End the connection cleanly after this many reply bytes (a truncated reply). */
  cutAfterBytes?: number;
  /** Reset the connection after this many reply bytes (a peer that dies mid-reply). */
  resetAfterBytes?: number;
}

export interface FaultProxy {
  port: number;
  /** Connections open through the proxy (client side). */
  open(): number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 that forwards to `targetPort` and applies `fault`
 * to the reply direction. Bounded: it only ever talks to the local target.
 */
export async function startFaultProxy(targetPort: number, fault: Fault): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.once("close", () => sockets.delete(s));
    }
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => {
      if (fault.delayMs) setTimeout(() => client.end(), fault.delayMs);
    });
    client.pipe(upstream);
    let sent = 0;
    const limit = fault.cutAfterBytes ?? fault.resetAfterBytes;
    upstream.on("data", (chunk: Buffer) => {
      let out = chunk;
      let stop = false;
      if (limit !== undefined && sent + out.length >= limit) {
        out = out.subarray(0, limit - sent);
        stop = true;
        upstream.destroy();
      }
      sent += out.length;
      const deliver = () => {
        if (client.destroyed) return;
        client.write(out);
        if (stop) {
          if (fault.resetAfterBytes !== undefined)
            client.write(Buffer.alloc(0), () => setTimeout(() => client.resetAndDestroy(), 20));
          else client.end();
        }
      };
      if (fault.delayMs) setTimeout(deliver, fault.delayMs);
      else deliver();
    });
    if (!fault.delayMs) upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => [...sockets].length,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
