// Loopback servers with scripted behaviour (the Redis and MQTT fakes): each on a free port, and
// every connection they accepted destroyed on close.
import net from "node:net";

export async function startFakeServers<K extends string>(
  handlers: Record<K, (socket: net.Socket) => void>,
): Promise<{ ports: Record<K, number>; close(): Promise<void> }> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const ports = {} as Record<K, number>;
  for (const [name, handle] of Object.entries(handlers) as Array<[K, (socket: net.Socket) => void]>) {
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("close", () => sockets.delete(socket));
      handle(socket);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    ports[name] = (server.address() as net.AddressInfo).port;
  }
  return {
    ports,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}
