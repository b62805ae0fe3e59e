import type { MqttProperties, SubscribePacket, MqttSubscription } from "./packets.js";

/**
 * What the client subscribed to (what the broker granted), so that it can make it all again when a
 * broker comes back without the session (a clean session, or one that expired).
 */
export class Subscriptions {
  readonly #granted = new Map<string, { subscription: MqttSubscription; properties?: MqttProperties }>();

  /** The broker's SUBACK `codes` for `packet`: the filters it granted are kept. */
  granted(packet: SubscribePacket, codes: readonly number[]): void {
    const properties = packet.properties;
    packet.subscriptions.forEach((subscription, i) => {
      if ((codes[i] ?? 0x80) < 0x80)
        this.#granted.set(subscription.topic, { subscription, ...(properties ? { properties } : {}) });
    });
  }

  /** Unsubscribed: not made again, whatever the broker answers. */
  forget(topics: readonly string[]): void {
    for (const topic of topics) this.#granted.delete(topic);
  }

  /** SUBSCRIBE packets that make every subscription again: one per set of properties. */
  again(): SubscribePacket[] {
    const groups = new Map<MqttProperties | undefined, MqttSubscription[]>();
    for (const { subscription, properties } of this.#granted.values()) {
      const group = groups.get(properties) ?? [];
      group.push(subscription);
      groups.set(properties, group);
    }
    return [...groups].map(([properties, subscriptions]) => ({
      type: "subscribe" as const,
      packetId: 0,
      subscriptions,
      ...(properties ? { properties } : {}),
    }));
  }
}
