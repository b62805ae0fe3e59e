/**
 * The Redis Cluster client through failovers: a master is killed (SIGKILL) and its replica promoted by
 * the cluster (cluster-node-timeout 1500 ms), on a cluster of its own; each test then restarts the
 * killed node and hands its slots back (CLUSTER FAILOVER), leaving the cluster as it found it. Slow
 * (seconds per failover): run on the primary Node and in workerd, not on Node 24.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import {
  createRedisClient,
  createRedisCluster,
  keySlot,
  type RedisCluster,
  type RedisClusterOptions,
} from "@sockkit/core/redis";
import { waitUntil } from "../harness/shared/promises.js";
import { clusterControl, type ClusterNodeView, type RedisClusterEnv } from "../harness/shared/redis-cluster-control.js";

export interface RedisClusterFailoverOptions {
  runtime: "workerd" | "node";
  connect: Connect;
  cluster: RedisClusterEnv;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function redisClusterFailoverConformance({ runtime, connect, cluster }: RedisClusterFailoverOptions): void {
  const env = cluster;
  const control = clusterControl(connect, env);
  const run = Math.random().toString(36).slice(2, 8);
  const clientName = `sockkit-failover-${runtime}-${run}`;
  const prefix = `cf:${runtime}:${run}:`;
  const clients: RedisCluster[] = [];
  const open = (options: Partial<RedisClusterOptions> = {}) => {
    const client = createRedisCluster({
      connect,
      nodes: env.ports.map((port) => `redis://127.0.0.1:${port}`),
      clientName,
      ...options,
    });
    clients.push(client);
    return client;
  };
  const onNode = async (port: number, ...args: Array<string | number>) => {
    const client = createRedisClient({ connect, address: { hostname: "127.0.0.1", port } });
    try {
      return await client.send(...args);
    } finally {
      await client.close();
    }
  };
  const numsub = async (port: number, channel: string) =>
    Number(((await onNode(port, "PUBSUB", "SHARDNUMSUB", channel)) as unknown[])[1]);
  /** The master of `slot` and its replica. */
  const shardOf = async (slot: number): Promise<{ master: ClusterNodeView; replica: ClusterNodeView }> => {
    const view = await control.nodes();
    const master = view.find((n) => n.role === "master" && n.slots.some(([a, b]) => a <= slot && slot <= b))!;
    const replica = view.find((n) => n.role === "replica" && n.masterId === master.id)!;
    return { master, replica };
  };
  /** Brings the killed master back as a replica, then makes it master again: the cluster as it was. */
  const restore = async (killed: number) => {
    await control.restart(killed);
    await control.promote(killed);
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    const ours = async () => {
      let count = 0;
      for (const port of env.ports) {
        const list = String(await onNode(port, "CLIENT", "LIST"));
        count += list.split("\n").filter((line) => line.includes(` name=${clientName} `)).length;
      }
      return count;
    };
    await waitUntil(async () => (await ours()) === 0, 5000, 100);
    expect(await ours()).toBe(0);
  });

  describe(`Redis Cluster client through failovers (${runtime})`, () => {
    it("a master killed: only commands in flight at the kill reject (ECLOSED); the next ones wait and work once its replica is promoted, within the node timeout and a few seconds", async () => {
      const cluster = open();
      // Four loops, one hash tag each, spread so that at least one runs on the master to be killed.
      const tags = Array.from({ length: 4 }, (_, i) => `${prefix}f${i}`);
      const victim = (await shardOf(keySlot(tags[0]!))).master;
      const onVictim = new Set<number>();
      for (const [i, tag] of tags.entries())
        if ((await shardOf(keySlot(tag))).master.port === victim.port) onVictim.add(i);
      let stop = false;
      let killedAt = 0;
      const problems: string[] = [];
      const closed: number[] = [];
      const firstAfterKill = new Map<number, number>();
      let afterPromotion = 0;
      let promotedAt = Infinity;
      const loops = tags.map(async (tag, loop) => {
        for (let n = 0; !stop; n++) {
          const key = `{${tag}}:${n % 10}`;
          const value = `${loop}:${n}`;
          const started = Date.now();
          try {
            await cluster.set(key, value);
            const got = await cluster.get(key);
            if (got !== value) problems.push(`GET ${key} gave ${got}, expected ${value}`);
            // The first round trip started once the master was dead tells when its keys work again.
            if (killedAt > 0 && started >= killedAt && !firstAfterKill.has(loop)) firstAfterKill.set(loop, Date.now());
            if (Date.now() > promotedAt && onVictim.has(loop)) afterPromotion++;
          } catch (error) {
            if ((error as { code?: string }).code === "ECLOSED" && onVictim.has(loop)) closed.push(loop);
            else problems.push(`loop ${loop}: ${String(error)}`);
          }
          await sleep(2);
        }
      });
      try {
        await sleep(300);
        await control.kill(victim.port);
        killedAt = Date.now();
        await control.awaitFailover(victim.port);
        promotedAt = Date.now();
        await waitUntil(() => afterPromotion >= 20, 15_000);
      } finally {
        stop = true;
        await Promise.all(loops);
      }
      expect(problems).toEqual([]);
      // At most the one command each loop on the killed master had in flight.
      expect(closed.length).toBeLessThanOrEqual(onVictim.size);
      expect(afterPromotion).toBeGreaterThanOrEqual(20);
      const recovery = Math.max(...[...onVictim].map((loop) => firstAfterKill.get(loop)! - killedAt));
      console.log(
        `[redis-cluster ${runtime}] master killed: its loops ran again ${recovery} ms after the kill ` +
          `(the cluster promoted the replica after ${promotedAt - killedAt} ms; node timeout ${env.nodeTimeoutMs} ms); ` +
          `${closed.length} command(s) in flight rejected with ECLOSED`,
      );
      expect(recovery).toBeLessThan(env.nodeTimeoutMs + 6000);

      await restore(victim.port);
      // The old master serves its slots again: the client follows (MOVED from the demoted replica).
      for (const tag of tags) {
        expect(await cluster.set(`{${tag}}:after`, "back")).toBe("OK");
        expect(await cluster.get(`{${tag}}:after`)).toBe("back");
      }
    }, 90_000);

    it("sharded pub/sub through a failover (RESP3 and RESP2): the subscriptions move to the promoted replica; what is lost is measured, nothing after", async () => {
      const publisher = open();
      const subscribers = [open({ protocol: 3 }), open({ protocol: 2 })];
      const channel = `${prefix}alerts`;
      const { master, replica } = await shardOf(keySlot(channel));
      const received: number[][] = [[], []];
      await Promise.all(subscribers.map((s, i) => s.ssubscribe(channel, (m) => received[i]!.push(Number(m.message)))));
      let seq = 0;
      for (; seq < 50;) await publisher.spublish(channel, String(++seq));
      await waitUntil(() => received.every((r) => r.length === 50));
      expect(received.map((r) => r.length)).toEqual([50, 50]);

      let publishing = true;
      const publishErrors: string[] = [];
      const publishLoop = (async () => {
        while (publishing) {
          const n = ++seq;
          await publisher
            .spublish(channel, String(n))
            .catch((e: { code?: string }) => publishErrors.push(`${n}: ${e.code}`));
          await sleep(2);
        }
      })();
      let placed = 0;
      let last = 0;
      try {
        await sleep(100);
        await control.kill(master.port);
        await control.awaitFailover(master.port);
        // Both subscriptions are in place on the promoted replica: from here on nothing may be lost.
        await waitUntil(async () => (await numsub(replica.port, channel)) === 2, 15_000, 50);
        placed = seq + 1;
        await waitUntil(() => seq >= placed + 50, 10_000);
      } finally {
        publishing = false;
        await publishLoop;
        last = seq;
      }
      expect(await numsub(replica.port, channel)).toBe(2);
      expect(last - placed).toBeGreaterThanOrEqual(50);
      await waitUntil(() => received.every((r) => r.includes(last)), 3000);
      // Only a publish in flight at the kill may fail.
      expect(publishErrors.length).toBeLessThanOrEqual(1);
      for (const e of publishErrors) expect(e).toMatch(/ECLOSED/);
      for (const [i, list] of received.entries()) {
        expect(new Set(list).size).toBe(list.length);
        expect(list.filter((n) => n > placed)).toEqual(Array.from({ length: last - placed }, (_, k) => placed + 1 + k));
        const lost = Array.from({ length: placed - 50 }, (_, k) => 51 + k).filter((n) => !list.includes(n));
        console.log(
          `[redis-cluster ${runtime}] RESP${i === 0 ? 3 : 2} shard subscriber, failover: ${lost.length} of ` +
            `${placed - 50} messages lost between the kill and the subscription in place on the promoted replica; ` +
            `none of the ${last - placed} after`,
        );
      }
      await restore(master.port);
      // After the slots went back (a manual failover), the subscriptions follow them again.
      await waitUntil(async () => (await numsub(master.port, channel)) === 2, 15_000, 50);
      const before = received.map((r) => r.length);
      await publisher.spublish(channel, "999999");
      await waitUntil(() => received.every((r, i) => r.length === before[i]! + 1), 3000);
      expect(received.map((r) => r.at(-1))).toEqual([999999, 999999]);
    }, 90_000);
  });
}
