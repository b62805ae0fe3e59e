// The Node side of the control ports of servers the tests break on purpose (see control-client.ts):
// one command per connection, run one at a time in arrival order, answered "ok" or "error …".
import net from "node:net";

export async function serveControl(
  // What run() resolves with (a JSON document, say) is the answer; nothing means "ok".
  run: (command: string, arg: string | undefined) => Promise<string | void>,
): Promise<{ port: number; close(): Promise<void> }> {
  let queue = Promise.resolve();
  const control = net.createServer((socket) => {
    socket.on("error", () => {});
    let line = "";
    socket.on("data", (data) => {
      line += data.toString();
      const end = line.indexOf("\n");
      if (end === -1) return;
      const [command = "", arg] = line.slice(0, end).trim().split(" ");
      line = "";
      queue = queue.then(async () => {
        try {
          const answer = await run(command, arg);
          socket.end(typeof answer === "string" ? answer : "ok\n");
        } catch (error) {
          socket.end(`error ${(error as Error).message}\n`);
        }
      });
    });
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  return {
    port: (control.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => control.close(() => resolve())),
  };
}
