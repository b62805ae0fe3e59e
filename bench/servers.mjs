// The servers the benches start on free loopback ports. Each is killed when
// the bench process exits, also when a bench throws half-way.
import { spawn } from "node:child_process";
import net from "node:net";

export async function freePort() {
  const s = net.createServer();
  await new Promise((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** Spawns a server, kills it at exit, and resolves once it accepts connections on `port`. */
export async function spawnServer(command, args, port) {
  const child = spawn(command, args, { stdio: "ignore" });
  process.once("exit", () => child.kill("SIGKILL"));
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`${command} did not start on port ${port}`);
}

/** A redis-server on a free port, nothing persisted. */
export async function startRedisServer() {
  const port = await freePort();
  const child = await spawnServer(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
    port,
  );
  return { port, stop: () => child.kill("SIGKILL") };
}
