import type { PublishPacket } from "./packets.js";

/**
 * An outbound QoS 1/2 message not yet acknowledged: the PUBLISH itself, or,
 * for QoS 2 once PUBREC arrived, only its PUBREL (the broker has the message;
 * sending the PUBLISH again could deliver it twice).
 */
export type StoredPacket = (PublishPacket & { packetId: number }) | { type: "pubrel"; packetId: number };

/**
 * Where a client keeps its unacknowledged QoS 1/2 messages so that they
 * outlive the client: a reconnecting client resends from memory anyway; a
 * store lets a new client (a restarted process, a Durable Object woken
 * again) resend what an earlier one with the same `clientId` left.
 *
 * Methods may return promises (Durable Object storage, a database). The
 * client writes before it sends, so a message the broker may have seen is
 * always in the store.
 */
export interface MqttStore {
  /** Saves a message about to be sent, or replaces it with its PUBREL. */
  put(packet: StoredPacket): void | Promise<void>;
  /** Forgets a message once its flow completed (PUBACK, PUBCOMP, or a refusal). */
  delete(packetId: number): void | Promise<void>;
  /** Every saved message, oldest first: read once, at the client's first CONNACK. */
  list(): Iterable<StoredPacket> | Promise<Iterable<StoredPacket>>;
}

/** A store in memory, shared by client instances in one isolate (and for tests). */
export function createMemoryStore(): MqttStore & { readonly size: number } {
  const packets = new Map<number, StoredPacket>();
  return {
    put(packet) {
      // A PUBREL keeps its message's place in the order.
      packets.set(packet.packetId, packet);
    },
    delete(packetId) {
      packets.delete(packetId);
    },
    list() {
      return [...packets.values()];
    },
    get size() {
      return packets.size;
    },
  };
}
