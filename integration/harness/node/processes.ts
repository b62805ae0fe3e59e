// Server processes the harness starts (redis-server, mosquitto) on free loopback ports.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";

// Ports this process has handed out. The kernel may give a port just closed to the next bind(0), and
// the servers bind theirs only later: two servers (a Redis Cluster node's client and another's bus
// port) once got the same one, and the one that lost the race was taken for listening.
const handedOut = new Set<number>();

/** A port that was free on 127.0.0.1 a moment ago, and never handed out before by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export interface ListeningProcess {
  process: ChildProcess;
  /** Stops it (if still running) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns a server and waits (10 s at most) until it accepts connections on
 * `port`. A server that exits or never listens is killed and reported with
 * what it wrote to stderr.
 */
export async function spawnListening(command: string, args: string[], port: number): Promise<ListeningProcess> {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (data: Buffer) => (stderr += data.toString()));
  let running = true;
  const exited = new Promise<void>((resolve) => child.once("exit", () => ((running = false), resolve())));
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (running) {
      child.kill(signal);
      await exited;
    }
  };
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (!running) throw new Error(`${command} exited at start: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not listen on port ${port} within 10 s: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { process: child, stop };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
