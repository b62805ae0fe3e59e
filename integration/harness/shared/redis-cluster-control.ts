// Runtime-neutral side of the Redis Cluster harness (used from workerd and Node): the topology as
// the harness reads it (CLUSTER NODES), and the control port that moves slots and fails masters.
import type { Connect } from "@sockkit/core";
import { queryControl, sendControl } from "./control-client.js";

/** One cluster started by the harness: its nodes' ports and its control port. */
export interface RedisClusterEnv {
  /** Every node's port on 127.0.0.1 (three masters and their replicas at the start). */
  ports: number[];
  /** The node timeout it runs with (failure detection), in milliseconds. */
  nodeTimeoutMs: number;
  control: number;
}

export interface ClusterNodeView {
  id: string;
  port: number;
  role: "master" | "replica";
  /** The master's id, for a replica. */
  masterId: string | undefined;
  /** Flagged `fail` or `fail?` by the node asked. */
  failing: boolean;
  /** The slots it serves (masters), as [first, last] ranges. */
  slots: Array<[number, number]>;
}

/** The cluster's control port: each call returns once the change is done. */
export function clusterControl(connect: Connect, env: RedisClusterEnv) {
  const send = (command: string) => sendControl(connect, env.control, command);
  return {
    /** The topology as a live node sees it. */
    nodes: async (): Promise<ClusterNodeView[]> => JSON.parse(await queryControl(connect, env.control, "nodes")),
    /** The master serving `slot`. */
    async ownerOf(slot: number): Promise<ClusterNodeView> {
      const view = await this.nodes();
      const owner = view.find((n) => n.role === "master" && n.slots.some(([a, b]) => a <= slot && slot <= b));
      if (!owner) throw new Error(`no master serves slot ${slot}`);
      return owner;
    },
    /** IMPORTING / MIGRATING, MIGRATE every key, SETSLOT NODE on every master. */
    moveSlot: (slot: number, toPort: number) => send(`move ${slot}:${toPort}`),
    /** The first half of a move: IMPORTING / MIGRATING and up to `keys` keys migrated. */
    beginMove: (slot: number, toPort: number, keys: number) => send(`begin-move ${slot}:${toPort}:${keys}`),
    /** The rest of the keys, then SETSLOT NODE (target, source, the other masters). */
    finishMove: (slot: number) => send(`finish-move ${slot}`),
    /** SIGKILL, nothing else. */
    kill: (port: number) => send(`kill ${port}`),
    /** Waits until a replica of the killed master took its slots and every live node says cluster_state:ok. */
    awaitFailover: (port: number) => send(`await-failover ${port}`),
    /** Starts a killed node again; waits until it rejoined (as a replica) and the cluster is whole. */
    restart: (port: number) => send(`restart ${port}`),
    /** CLUSTER FAILOVER on a replica: it becomes master again (no write lost). */
    promote: (port: number) => send(`promote ${port}`),
    /** CONFIG RESETSTAT on every live node (for counting commands per node). */
    resetStats: () => send("reset-stats"),
  };
}

/** `INFO commandstats`'s calls for `command` (lower case), from the text of INFO. */
export function commandCalls(info: string, command: string): number {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return match ? Number(match[1]) : 0;
}
