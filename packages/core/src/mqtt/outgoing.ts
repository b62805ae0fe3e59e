import { encodePacket } from "./codec.js";
import type { MqttSettings, MqttSubscribeOptions } from "./options.js";
import type { BrokerLimits } from "./connection.js";
import type { ConnackPacket, MqttPacket, PublishPacket, QoS, MqttSubscription } from "./packets.js";
import { CONNACK_V4, MqttReasonError } from "./reason.js";
import { topicNameProblem } from "./topic.js";

/** The CONNECT of one attempt, from the client's settings (and the attempt's password). */
export function connectPacket(o: MqttSettings, password: Uint8Array | undefined): MqttPacket {
  const will = o.will;
  return {
    type: "connect",
    protocolVersion: o.protocolVersion,
    clientId: o.clientId,
    clean: o.clean,
    keepalive: o.keepalive,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(will
      ? {
          will: {
            topic: will.topic,
            payload: typeof will.payload === "string" ? new TextEncoder().encode(will.payload) : will.payload,
            qos: will.qos ?? 0,
            retain: will.retain ?? false,
            ...(will.properties ? { properties: will.properties } : {}),
          },
        }
      : {}),
    ...(o.protocolVersion === 5
      ? {
          properties: {
            ...(o.sessionExpiry ? { sessionExpiryInterval: o.sessionExpiry } : {}),
            ...(o.receiveMaximum < 65535 ? { receiveMaximum: o.receiveMaximum } : {}),
            maximumPacketSize: o.maxPacketSize,
            ...(o.topicAliasMaximum ? { topicAliasMaximum: o.topicAliasMaximum } : {}),
            ...(o.auth
              ? { authenticationMethod: o.auth.method, ...(o.auth.data ? { authenticationData: o.auth.data } : {}) }
              : {}),
          },
        }
      : {}),
  };
}

/** SUBSCRIBE entries: a filter given as a string takes `options`; a {@link MqttSubscription} is used as it is. */
export function subscriptionList(
  filters: string | ReadonlyArray<string | MqttSubscription>,
  options: MqttSubscribeOptions,
  v5: boolean,
): MqttSubscription[] {
  return (typeof filters === "string" ? [filters] : [...filters]).map((f): MqttSubscription =>
    typeof f === "string"
      ? {
          topic: f,
          qos: options.qos ?? 0,
          ...(v5
            ? {
                noLocal: options.noLocal ?? false,
                retainAsPublished: options.retainAsPublished ?? false,
                retainHandling: options.retainHandling ?? 0,
              }
            : {}),
        }
      : f,
  );
}

/** What encoding would refuse, checked before a connection is up: a `TypeError` now rather than later. */
export function checkOffline(packet: PublishPacket, version: 4 | 5): void {
  const problem = topicNameProblem(packet.topic);
  if (problem && !(packet.topic === "" && packet.properties?.topicAlias !== undefined)) throw new TypeError(problem);
  const qos: unknown = packet.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new TypeError(`QoS must be 0, 1 or 2, got ${String(qos)}`);
  if (!(packet.payload instanceof Uint8Array)) throw new TypeError("a payload must be a string or a Uint8Array");
  encodePacket({ ...packet, packetId: 1 }, version); // a message that can never be sent is refused now
  // An alias names a topic for one connection: a message by alias alone cannot wait for another.
  if (packet.topic === "")
    throw new TypeError(
      "a PUBLISH with only a topic alias needs the connection that set the alias up, and the client is not connected",
    );
}

/** What a CONNACK says the broker accepts, with the client's own settings folded in. */
export function brokerLimits(connack: ConnackPacket, o: MqttSettings): BrokerLimits {
  const p = connack.properties;
  return {
    window: Math.min(o.maxInFlight, p?.receiveMaximum ?? 65535),
    maximumQoS: (p?.maximumQoS ?? 2) as QoS,
    retainAvailable: p?.retainAvailable !== 0,
    topicAliasMaximum: p?.topicAliasMaximum ?? 0,
    maximumPacketSize: p?.maximumPacketSize ?? Infinity,
    autoTopicAlias: o.autoTopicAlias,
  };
}

/** A CONNACK that refuses the connection, as the error `connect()` rejects with. */
export function connackRefusal(connack: ConnackPacket, version: 4 | 5): MqttReasonError {
  const text =
    version === 4 ? (CONNACK_V4[connack.reasonCode] ?? "refused") : (connack.properties?.reasonString ?? "refused");
  return new MqttReasonError(
    `the broker refused the connection: ${text} (0x${connack.reasonCode.toString(16)})`,
    connack.reasonCode,
  );
}
