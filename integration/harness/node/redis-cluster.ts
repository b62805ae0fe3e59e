// A real Redis Cluster for the cluster suites: six `redis-server --cluster-enabled yes` on free loopback
// ports (cluster bus ports free too), joined by `redis-cli --cluster create … --cluster-replicas 1`, three
// masters and three replicas, nothing persisted but each node's nodes.conf (so a killed node restarts
// with its identity). The admin side talks to the nodes through `redis-cli` (nobody here wrote it), and
// reads the topology from `CLUSTER NODES` (the client under test reads CLUSTER SHARDS / SLOTS).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, spawnListening, type ListeningProcess } from "./processes.js";
import type { ClusterNodeView } from "../shared/redis-cluster-control.js";

export interface RedisClusterHandle {
  ports: number[];
  /** Kills a node at once (SIGKILL); nothing else. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again (same port, same nodes.conf) and waits until the cluster is whole again. */
  restart(port: number): Promise<void>;
  /** Waits until a replica of the killed master `port` is master of its slots and every live node says ok. */
  awaitFailover(port: number): Promise<void>;
  /** `CLUSTER FAILOVER` on replica `port` (a manual, coordinated failover: no write is lost), waits until done. */
  promote(port: number): Promise<void>;
  /** Moves `slot` to master `toPort`: IMPORTING / MIGRATING, MIGRATE its keys, SETSLOT NODE on every master. */
  moveSlot(slot: number, toPort: number): Promise<void>;
  /** The first half of a move: IMPORTING / MIGRATING, then MIGRATE up to `keys` keys (Infinity: all). */
  beginMove(slot: number, toPort: number, keys: number): Promise<void>;
  /** The second half: MIGRATE what is left, then SETSLOT NODE (target, source, the other masters). */
  finishMove(slot: number): Promise<void>;
  /** The topology as node `port` (else any live node) sees it. */
  nodes(port?: number): Promise<ClusterNodeView[]>;
  /** Waits until every live node says cluster_state:ok, agrees on who serves each slot, and every replica is in sync. */
  awaitStable(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const HOW_TO =
  "The Redis Cluster suites need the redis-server and redis-cli binaries (7.0 or newer) on PATH " +
  "(Debian/Ubuntu: apt-get install -y redis-server redis-tools; macOS: brew install redis).";

/** redis-cli against one node; resolves with its raw output, rejects with what it wrote to stderr or an error reply. */
export function cli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "redis-cli",
      ["-h", "127.0.0.1", "-p", String(port), ...args],
      { timeout: 10_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          return reject(new Error(`redis-cli -p ${port} ${args.join(" ")}: ${stderr.trim() || error.message}`));
        // redis-cli exits 0 on an error reply; raw mode prints it as the output ("ERR …", "MOVED …").
        if (/^(ERR|MOVED|ASK|CLUSTERDOWN|TRYAGAIN|WRONGTYPE|BUSYKEY|IOERR|NOAUTH|LOADING)\b/.test(stdout))
          return reject(new Error(`redis-cli -p ${port} ${args.join(" ")}: ${stdout.trim()}`));
        resolve(stdout);
      },
    );
  });
}

/** Parses `CLUSTER NODES`. */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(" ");
      const port = Number(address!.split("@")[0]!.split(":").at(-1));
      const flagSet = new Set(flags!.split(","));
      return {
        id: id!,
        port,
        role: flagSet.has("master") ? ("master" as const) : ("replica" as const),
        masterId: master === "-" ? undefined : master,
        failing: flagSet.has("fail") || flagSet.has("fail?"),
        // "[slot->-id]" / "[slot-<-id]" entries are migrations in progress, not served slots.
        slots: slots
          .filter((s) => !s.startsWith("["))
          .map((s) => {
            const [first, last] = s.split("-").map(Number);
            return [first!, last ?? first!] as [number, number];
          }),
      };
    });
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end)
      throw new Error(`the cluster did not ${what} within ${timeoutMs} ms${last ? ` (last error: ${last})` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts six nodes and joins them into a cluster of three masters with one replica each. */
export async function startRedisCluster(options: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1500;
  const dir = mkdtempSync(path.join(os.tmpdir(), "sockkit-cluster-"));
  const processes = new Map<number, ListeningProcess>();
  const busPorts = new Map<number, number>();
  const killed = new Set<number>();
  // Every process is killed at exit, also if the run dies before its teardown.
  const onExit = () => {
    for (const p of processes.values()) p.process.kill("SIGKILL");
  };
  process.once("exit", onExit);

  const launch = async (port: number) => {
    const server = await spawnListening(
      "redis-server",
      [
        "--port",
        String(port),
        "--cluster-port",
        String(busPorts.get(port)),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${port}.conf`,
        "--cluster-node-timeout",
        String(nodeTimeoutMs),
        // A replica may take over however long it was cut off: failovers stay quick in a test.
        "--cluster-replica-validity-factor",
        "0",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "warning",
      ],
      port,
    );
    processes.set(port, server);
  };

  const stop = async () => {
    process.removeListener("exit", onExit);
    await Promise.all([...processes.values()].map((p) => p.stop()));
    processes.clear();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // freePort() never hands out a port twice, so no client or bus port can collide (across clusters too).
    const ports: number[] = [];
    while (ports.length < 6) {
      const port = await freePort();
      ports.push(port);
      busPorts.set(port, await freePort());
    }
    await Promise.all(ports.map(launch)).catch((error: Error) => {
      throw new Error(`${error.message}. ${HOW_TO}`);
    });
    await new Promise<void>((resolve, reject) => {
      execFile(
        "redis-cli",
        ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "1", "--cluster-yes"],
        { timeout: 60_000 },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`redis-cli --cluster create failed: ${stderr || stdout || error.message}`))
            : resolve(),
      );
    });

    const live = () => ports.filter((p) => !killed.has(p));
    const nodes = async (port?: number) => parseClusterNodes(await cli(port ?? live()[0]!, "CLUSTER", "NODES"));
    const idOf = async (port: number) => (await cli(port, "CLUSTER", "MYID")).trim();

    const awaitStable = (timeoutMs = 30_000) =>
      waitFor(
        "become stable (cluster_state:ok everywhere, one view of the slots, replicas in sync)",
        async () => {
          const views = await Promise.all(live().map((p) => nodes(p)));
          const infos = await Promise.all(live().map((p) => cli(p, "CLUSTER", "INFO")));
          if (!infos.every((info) => info.includes("cluster_state:ok"))) return false;
          const owners = (view: ClusterNodeView[]) =>
            JSON.stringify(
              view
                .filter((n) => n.role === "master" && n.slots.length > 0)
                .map((n) => [n.port, n.slots])
                .sort(),
            );
          if (new Set(views.map(owners)).size !== 1) return false;
          const view = views[0]!;
          // Every live node known and not failing; with every node up, three masters serving slots, each
          // with its replica, and every replica in sync.
          if (view.filter((n) => !killed.has(n.port)).some((n) => n.failing)) return false;
          if (killed.size === 0) {
            const masters = view.filter((n) => n.role === "master" && n.slots.length > 0);
            if (masters.length !== 3 || view.length !== 6) return false;
            if (!masters.every((m) => view.some((n) => n.role === "replica" && n.masterId === m.id))) return false;
          }
          for (const replica of view.filter((n) => n.role === "replica" && !killed.has(n.port))) {
            const info = await cli(replica.port, "INFO", "replication");
            if (!info.includes("master_link_status:up")) return false;
          }
          return true;
        },
        timeoutMs,
      );

    const migrate = async (source: number, target: number, slot: number, limit: number) => {
      let moved = 0;
      while (moved < limit) {
        const keys = (
          await cli(source, "CLUSTER", "GETKEYSINSLOT", String(slot), String(Math.min(1000, limit - moved)))
        )
          .split("\n")
          .filter((k) => k !== "");
        if (keys.length === 0) return;
        await cli(source, "MIGRATE", "127.0.0.1", String(target), "", "0", "5000", "REPLACE", "KEYS", ...keys);
        moved += keys.length;
      }
    };
    const moving = new Map<number, { source: number; target: number }>();

    const handle: RedisClusterHandle = {
      ports,
      nodes,
      awaitStable,
      async kill(port) {
        killed.add(port);
        await processes.get(port)?.stop();
        processes.delete(port);
      },
      async restart(port) {
        if (!killed.has(port)) throw new Error(`node ${port} is running`);
        await launch(port);
        killed.delete(port);
        await awaitStable();
      },
      async awaitFailover(port) {
        const id = (await nodes()).find((n) => n.port === port)?.id;
        if (!id) throw new Error(`no node on port ${port}`);
        await waitFor(
          `promote a replica of ${port}`,
          async () => {
            const view = await nodes();
            const dead = view.find((n) => n.id === id)!;
            if (dead.role === "master" && dead.slots.length > 0) return false;
            const infos = await Promise.all(live().map((p) => cli(p, "CLUSTER", "INFO")));
            return infos.every((info) => info.includes("cluster_state:ok"));
          },
          30_000,
        );
      },
      async promote(port) {
        await cli(port, "CLUSTER", "FAILOVER");
        await waitFor(
          `make ${port} a master`,
          async () => (await nodes(port)).find((n) => n.port === port)!.role === "master",
          30_000,
        );
        await awaitStable();
      },
      async beginMove(slot, toPort, keys) {
        const view = await nodes();
        const source = view.find((n) => n.role === "master" && n.slots.some(([a, b]) => a <= slot && slot <= b));
        if (!source) throw new Error(`no master serves slot ${slot}`);
        if (source.port === toPort) throw new Error(`slot ${slot} is already on ${toPort}`);
        await cli(toPort, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id);
        await cli(source.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", await idOf(toPort));
        moving.set(slot, { source: source.port, target: toPort });
        await migrate(source.port, toPort, slot, keys);
      },
      async finishMove(slot) {
        const move = moving.get(slot);
        if (!move) throw new Error(`slot ${slot} is not moving`);
        moving.delete(slot);
        await migrate(move.source, move.target, slot, Infinity);
        const targetId = await idOf(move.target);
        // The target first, then the source (which then redirects, and ends its shard channels of the slot).
        await cli(move.target, "CLUSTER", "SETSLOT", String(slot), "NODE", targetId);
        await cli(move.source, "CLUSTER", "SETSLOT", String(slot), "NODE", targetId);
        const others = (await nodes()).filter(
          (n) => n.role === "master" && !killed.has(n.port) && n.port !== move.source && n.port !== move.target,
        );
        await Promise.all(others.map((n) => cli(n.port, "CLUSTER", "SETSLOT", String(slot), "NODE", targetId)));
      },
      async moveSlot(slot, toPort) {
        await handle.beginMove(slot, toPort, Infinity);
        await handle.finishMove(slot);
      },
      stop,
    };
    await awaitStable(60_000);
    return handle;
  } catch (error) {
    await stop();
    throw error;
  }
}
