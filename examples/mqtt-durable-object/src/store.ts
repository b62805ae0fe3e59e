// An MqttStore on Durable Object storage: unacknowledged QoS 1/2 messages survive the object
// being evicted or restarted, and the next client with the same clientId sends them again.
import type { MqttStore, StoredPacket } from "@sockkit/core/mqtt";

/** The subset of `DurableObjectStorage` the store uses (so it can be tested on any such storage). */
export interface KeyValueStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<boolean>;
  list<T>(options: { prefix: string }): Promise<Map<string, T>>;
}

interface Entry {
  /** Keeps "oldest first" across packet ids that wrap around at 65,535. */
  seq: number;
  packet: StoredPacket;
}

/**
 * @param storage `ctx.storage` of a Durable Object
 * @param prefix keys used, one per message: `${prefix}${packetId}` @default "mqtt-inflight:"
 */
export function durableObjectStore(storage: KeyValueStorage, prefix = "mqtt-inflight:"): MqttStore {
  let last = 0;
  // Date-based, so a restarted object still sorts after what an earlier one saved.
  const next = () => (last = Math.max(last + 1, Date.now() * 1000));
  return {
    async put(packet) {
      const key = `${prefix}${packet.packetId}`;
      // A PUBREL replaces its PUBLISH in place: same position in the order.
      const seq = packet.type === "pubrel" ? ((await storage.get<Entry>(key))?.seq ?? next()) : next();
      await storage.put<Entry>(key, { seq, packet });
    },
    async delete(packetId) {
      await storage.delete(`${prefix}${packetId}`);
    },
    async list() {
      const entries = await storage.list<Entry>({ prefix });
      return [...entries.values()].sort((a, b) => a.seq - b.seq).map((entry) => entry.packet);
    },
  };
}
