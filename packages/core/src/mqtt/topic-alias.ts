import { MqttProtocolError } from "./codec.js";
import type { PublishPacket } from "./packets.js";

/**
 * The topic aliases this client gives on one connection (`autoTopicAlias`, MQTT 5 §3.3.2.3.4):
 * the first message to a topic carries its name and a new alias, the later ones the alias alone,
 * within the broker's CONNACK `topicAliasMaximum`. Aliases are given as packets are written, so
 * the broker always learns one before it is used alone.
 */
export class TopicAliasSend {
  readonly #max: number;
  readonly #aliases = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The packet as it goes on the wire, and the topic it names if it is written (see {@link commit}). */
  apply(packet: PublishPacket): { packet: PublishPacket; naming?: string } {
    if (packet.topic === "") return { packet }; // no topic to name: the encoder refuses it
    const alias = this.#aliases.get(packet.topic);
    if (alias !== undefined)
      return { packet: { ...packet, topic: "", properties: { ...packet.properties, topicAlias: alias } } };
    if (this.#aliases.size >= this.#max) return { packet };
    const next = this.#aliases.size + 1;
    return { packet: { ...packet, properties: { ...packet.properties, topicAlias: next } }, naming: packet.topic };
  }

  /** The packet that named `topic` was encoded and queued: its alias holds from now on. */
  commit(topic: string): void {
    this.#aliases.set(topic, this.#aliases.size + 1);
  }
}

/** The topic aliases the broker gives on one connection, resolved so every message carries its topic. */
export class TopicAliasReceive {
  readonly #max: number;
  readonly #topics = new Map<number, string>();

  /** @param max the client's `topicAliasMaximum` (told in CONNECT) */
  constructor(max: number) {
    this.#max = max;
  }

  /** An inbound PUBLISH with a topic alias, as the same message with its topic. */
  resolve(packet: PublishPacket, alias: number): PublishPacket {
    if (alias === 0 || alias > this.#max) {
      throw new MqttProtocolError(
        `the broker used topic alias ${alias}, outside the ${this.#max} this client allows (topicAliasMaximum)`,
        0x94,
      );
    }
    if (packet.topic !== "") {
      this.#topics.set(alias, packet.topic);
      return packet;
    }
    const topic = this.#topics.get(alias);
    if (topic === undefined)
      throw new MqttProtocolError(
        `the broker sent a PUBLISH by topic alias ${alias}, which this connection never set`,
        0x82,
      );
    return { ...packet, topic };
  }
}
