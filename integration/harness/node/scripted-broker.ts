// What the scripted MQTT brokers (mqtt-session-fake.ts, mqtt-limits-fake.ts) share: listening on a
// free port, cutting their connections on close, and a control port that answers
// "log <clientId>" with the packets that client sent, per connection, as JSON.
import net from "node:net";

export async function serveScriptedBroker(
  onConnection: (socket: net.Socket) => void,
  logs: ReadonlyMap<string, { connections: unknown[] }>,
): Promise<{ port: number; control: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  const control = net.createServer((socket) => {
    socket.on("error", () => {});
    let line = "";
    socket.on("data", (data) => {
      line += data.toString();
      if (!line.includes("\n")) return;
      const [command, clientId] = line.trim().split(" ");
      socket.end(
        command === "log"
          ? JSON.stringify(logs.get(clientId!) ?? { connections: [] })
          : `error unknown command ${command}\n`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    control: (control.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([server, control].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}
