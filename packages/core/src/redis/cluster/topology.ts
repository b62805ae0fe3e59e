import { ProtocolError } from "../../errors.js";
import type { SocketAddress } from "../../types.js";
import type { RespValue } from "../resp/decoder.js";
import { SLOT_COUNT } from "./slot.js";

/** A node as the cluster describes it. */
export interface NodeInfo {
  hostname: string;
  port: number;
  id: string | undefined;
  /**
   * False when the cluster flags it failed. "loading" counts as healthy:
   * Redis 7.0 reports every replica of a master that has had no write yet as
   * loading (its replication offset is 0); one really loading answers
   * `LOADING`, and the command is retried on the master.
   */
  healthy: boolean;
}

/** One master, the slot ranges it serves and its replicas. */
export interface ShardInfo {
  slots: Array<[first: number, last: number]>;
  master: NodeInfo;
  replicas: NodeInfo[];
}

/** `host:port`, the key a node is known by (IPv6 hosts in brackets). */
export function addressKey(address: SocketAddress): string {
  return `${address.hostname}:${address.port}`;
}

/** A host as the cluster spells it: "" means the node asked, "?" (or nil) an unknown endpoint. */
function endpoint(value: RespValue | undefined, asked: SocketAddress): string | undefined {
  if (value === "" || value === undefined) return asked.hostname;
  if (value === "?" || value === null) return undefined;
  const host = String(value);
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function record(value: RespValue | undefined): Record<string, RespValue> {
  const out: Record<string, RespValue> = {};
  if (value instanceof Map) for (const [k, v] of value) out[String(k)] = v;
  else if (Array.isArray(value)) for (let i = 0; i + 1 < value.length; i += 2) out[String(value[i])] = value[i + 1]!;
  return out;
}

/** `CLUSTER SHARDS` (Redis 7): shards with their slot ranges and nodes (role, health, endpoint). */
export function parseShards(reply: RespValue, asked: SocketAddress, tls: boolean): ShardInfo[] {
  if (!Array.isArray(reply)) throw new ProtocolError("CLUSTER SHARDS did not answer with an array");
  const shards: ShardInfo[] = [];
  for (const entry of reply) {
    const shard = record(entry);
    const flat = (Array.isArray(shard.slots) ? shard.slots : []).map(Number);
    const slots: Array<[number, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) slots.push([flat[i]!, flat[i + 1]!]);
    let master: NodeInfo | undefined;
    const replicas: NodeInfo[] = [];
    for (const raw of Array.isArray(shard.nodes) ? shard.nodes : []) {
      const node = record(raw);
      const hostname = endpoint(node.endpoint ?? node.ip, asked);
      const port = Number(tls && node["tls-port"] !== undefined ? node["tls-port"] : node.port);
      if (hostname === undefined || !(port > 0)) continue;
      const info: NodeInfo = {
        hostname,
        port,
        id: node.id == null ? undefined : String(node.id),
        healthy: node.health !== "failed",
      };
      if (node.role === "master") master = info;
      else replicas.push(info);
    }
    // A shard without slots (a failed master whose replica took over, a new empty node) serves nothing.
    if (master && slots.length > 0) shards.push({ slots: checked(slots), master, replicas });
  }
  return shards;
}

/** `CLUSTER SLOTS` (Redis 3+): slot ranges, each with its master and replicas (failed replicas left out). */
export function parseSlots(reply: RespValue, asked: SocketAddress): ShardInfo[] {
  if (!Array.isArray(reply)) throw new ProtocolError("CLUSTER SLOTS did not answer with an array");
  const byMaster = new Map<string, ShardInfo>();
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 3) continue;
    const [first, last, ...nodes] = entry;
    const infos: NodeInfo[] = [];
    for (const node of nodes) {
      if (!Array.isArray(node)) continue;
      const hostname = endpoint(node[0], asked);
      const port = Number(node[1]);
      if (hostname === undefined || !(port > 0)) continue;
      infos.push({ hostname, port, id: node[2] == null ? undefined : String(node[2]), healthy: true });
    }
    const master = infos[0];
    if (master === undefined || nodes[0] === undefined) continue;
    const key = master.id ?? addressKey(master);
    let shard = byMaster.get(key);
    if (!shard) byMaster.set(key, (shard = { slots: [], master, replicas: infos.slice(1) }));
    shard.slots.push([Number(first), Number(last)]);
  }
  return [...byMaster.values()].map((shard) => ({ ...shard, slots: checked(shard.slots) }));
}

function checked(slots: Array<[number, number]>): Array<[number, number]> {
  for (const [first, last] of slots) {
    if (!(Number.isInteger(first) && Number.isInteger(last) && 0 <= first && first <= last && last < SLOT_COUNT))
      throw new ProtocolError(`the cluster described an impossible slot range ${first}-${last}`);
  }
  return slots;
}
