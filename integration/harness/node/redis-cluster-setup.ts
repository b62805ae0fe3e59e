import { serveControl } from "./control-server.js";
import { cli, startRedisCluster, type RedisClusterHandle } from "./redis-cluster.js";
import type { RedisClusterEnv } from "../shared/redis-cluster-control.js";
import { provideServices, type Running } from "./services.js";

export interface RedisClusterTestEnv {
  /** For the suites that leave the cluster as they found it (slots moved are moved back, or anywhere). */
  main: RedisClusterEnv;
  /** For the failover suite, which kills masters (and restores them). */
  failover: RedisClusterEnv;
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
 * Starts the Redis Clusters, in Node (nothing can listen inside workerd): one for the suites that
 * move slots, and a second one the failover suite may kill masters of without disturbing the first.
 */
export async function startRedisClusterServices(): Promise<Running<RedisClusterTestEnv>> {
  const started: RedisClusterHandle[] = [];
  const controls: Array<{ close(): Promise<void> }> = [];
  const close = async () => {
    await Promise.all(controls.map((c) => c.close()));
    await Promise.all(started.map((c) => c.stop()));
  };
  try {
    const [first, second] = await Promise.all([
      startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS }).then((c) => (started.push(c), c)),
      startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS }).then((c) => (started.push(c), c)),
    ]);
    const main = await control(first);
    controls.push(main);
    const failover = await control(second);
    controls.push(failover);
    console.log(
      `[redis-cluster] main cluster on ${first.ports.join(",")}; failover cluster on ${second.ports.join(",")}`,
    );
    return { env: { main: main.env, failover: failover.env }, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Hands the clusters' ports to the tests. */
export default provideServices("redisCluster", startRedisClusterServices);
