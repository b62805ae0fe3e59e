import type { TestProject } from "vitest/node";
import { serveControl } from "./control-server.js";
import { cli, startRedisCluster, type RedisClusterHandle } from "./redis-cluster.js";
import type { RedisClusterEnv } from "../shared/redis-cluster-control.js";

export interface RedisClusterTestEnv {
  /** For the suites that leave the cluster as they found it (slots moved are moved back, or anywhere). */
  main: RedisClusterEnv;
  /** For the failover suite, which kills masters; null where the slow suites do not run (Node 24). */
  failover: RedisClusterEnv | null;
}

declare module "vitest" {
  export interface ProvidedContext {
    redisCluster: RedisClusterTestEnv;
  }
}

const NODE_TIMEOUT_MS = 1500;

/** Serves one cluster's control port (see redis-cluster-control.ts for the commands). */
async function control(cluster: RedisClusterHandle): Promise<{ env: RedisClusterEnv; close(): Promise<void> }> {
  const server = await serveControl(async (command, arg = "") => {
    const [a, b, c] = arg.split(":").map(Number);
    switch (command) {
      case "nodes":
        return JSON.stringify(await cluster.nodes());
      case "move":
        return cluster.moveSlot(a!, b!);
      case "begin-move":
        return cluster.beginMove(a!, b!, c!);
      case "finish-move":
        return cluster.finishMove(a!);
      case "kill":
        return cluster.kill(a!);
      case "await-failover":
        return cluster.awaitFailover(a!);
      case "restart":
        return cluster.restart(a!);
      case "promote":
        return cluster.promote(a!);
      case "reset-stats":
        await Promise.all(
          (await cluster.nodes()).filter((n) => !n.failing).map((n) => cli(n.port, "CONFIG", "RESETSTAT")),
        );
        return;
      default:
        throw new Error(`unknown command ${command}`);
    }
  });
  return {
    env: { ports: cluster.ports, nodeTimeoutMs: NODE_TIMEOUT_MS, control: server.port },
    close: () => server.close(),
  };
}

/**
 * Starts the Redis Clusters once per run, in Node (nothing can listen inside workerd): one for the
 * suites that move slots, and, unless the slow suites are left out (SOCKKIT_SKIP_SLOW=1, the Node 24
 * run), a second one the failover suite may kill masters of without disturbing the first.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const slow = process.env.SOCKKIT_SKIP_SLOW !== "1";
  const started: RedisClusterHandle[] = [];
  const controls: Array<{ close(): Promise<void> }> = [];
  const teardown = async () => {
    await Promise.all(controls.map((c) => c.close()));
    await Promise.all(started.map((c) => c.stop()));
  };
  try {
    const clusters = await Promise.all([
      startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS }).then((c) => (started.push(c), c)),
      slow ? startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS }).then((c) => (started.push(c), c)) : null,
    ]);
    const main = await control(clusters[0]!);
    controls.push(main);
    const failover = clusters[1] ? await control(clusters[1]) : null;
    if (failover) controls.push(failover);
    console.log(
      `[redis-cluster] main cluster on ${clusters[0]!.ports.join(",")}` +
        (clusters[1]
          ? `; failover cluster on ${clusters[1].ports.join(",")}`
          : "; no failover cluster (slow suites left out)"),
    );
    project.provide("redisCluster", { main: main.env, failover: failover?.env ?? null });
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
