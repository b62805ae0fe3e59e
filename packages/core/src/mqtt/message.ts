import { decodeUtf8 } from "../text.js";
import type { MqttProperties, PublishPacket, QoS } from "./packets.js";

/** A message the client received. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  /**
   * The payload as UTF-8 text, decoded when read. A getter on the message's
   * prototype: spreading the message or `JSON.stringify` does not copy it.
   */
  readonly text: string;
  qos: QoS;
  retain: boolean;
  /**
   * The broker's DUP flag: it may have sent this message before. A QoS 2
   * message the client already has is never delivered twice; a broker that
   * forgot it had completed one (Mosquitto after a restart) may still send it again.
   */
  dup: boolean;
  properties?: MqttProperties;
}

// A class, not an object literal with a getter: a literal with an accessor and a
// conditional spread took about a tenth of a publish→receive round trip's CPU.
export class Message implements MqttMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  declare readonly properties?: MqttProperties;
  constructor(packet: PublishPacket) {
    this.topic = packet.topic;
    this.payload = packet.payload;
    this.qos = packet.qos;
    this.retain = packet.retain;
    this.dup = packet.dup;
    if (packet.properties) (this as { properties?: MqttProperties }).properties = packet.properties;
  }
  get text(): string {
    // A leading U+FEFF is payload, not a byte-order mark (MQTT.js's payload.toString() keeps it too).
    return decodeUtf8(this.payload, 0, this.payload.length);
  }
}

/** The same topic and payload: a broker's repeat of a QoS 2 message it already sent. */
export function sameMessage(a: PublishPacket, b: PublishPacket): boolean {
  if (a.topic !== b.topic || a.payload.length !== b.payload.length) return false;
  for (let i = 0; i < a.payload.length; i++) if (a.payload[i] !== b.payload[i]) return false;
  return true;
}
