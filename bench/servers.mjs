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

/**
 * A Redis Cluster of `masters` nodes (no replicas: a read benchmark leaves them idle, and they would
 * take CPU from a shared machine), cluster bus ports chosen free too, joined with
 * `redis-cli --cluster create`; resolves once every node says cluster_state:ok.
 */
export async function startRedisCluster(masters = 3) {
  const { execFile } = await import("node:child_process");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const dir = mkdtempSync(path.join(os.tmpdir(), "sockkit-bench-cluster-"));
  const ports = [];
  const children = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    const bus = await freePort();
    ports.push(port);
    children.push(
      await spawnServer(
        "redis-server",
        [
          ...["--port", String(port), "--cluster-port", String(bus), "--bind", "127.0.0.1"],
          ...["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--dir", dir],
          ...["--save", "", "--appendonly", "no", "--loglevel", "warning"],
        ],
        port,
      ),
    );
  }
  const cli = (...args) =>
    new Promise((resolve, reject) =>
      execFile("redis-cli", args, { timeout: 60_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`redis-cli ${args.join(" ")}: ${stderr || error.message}`)) : resolve(stdout),
      ),
    );
  await cli("--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-yes");
  for (let i = 0; ; i++) {
    const infos = await Promise.all(ports.map((p) => cli("-p", String(p), "CLUSTER", "INFO")));
    if (infos.every((info) => info.includes("cluster_state:ok"))) break;
    if (i > 200) throw new Error("the bench cluster did not become ok within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    ports,
    stop() {
      for (const child of children) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
