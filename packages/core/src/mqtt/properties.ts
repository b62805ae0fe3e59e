import type { MqttProperties } from "./packets.js";

type Kind = "byte" | "u16" | "u32" | "varint" | "string" | "binary" | "pair";

// MQTT 5.0 §2.2.2.2: identifier, name, data type.
const TABLE: ReadonlyArray<readonly [number, keyof MqttProperties, Kind]> = [
  [0x01, "payloadFormatIndicator", "byte"],
  [0x02, "messageExpiryInterval", "u32"],
  [0x03, "contentType", "string"],
  [0x08, "responseTopic", "string"],
  [0x09, "correlationData", "binary"],
  [0x0b, "subscriptionIdentifiers", "varint"],
  [0x11, "sessionExpiryInterval", "u32"],
  [0x12, "assignedClientIdentifier", "string"],
  [0x13, "serverKeepAlive", "u16"],
  [0x15, "authenticationMethod", "string"],
  [0x16, "authenticationData", "binary"],
  [0x17, "requestProblemInformation", "byte"],
  [0x18, "willDelayInterval", "u32"],
  [0x19, "requestResponseInformation", "byte"],
  [0x1a, "responseInformation", "string"],
  [0x1c, "serverReference", "string"],
  [0x1f, "reasonString", "string"],
  [0x21, "receiveMaximum", "u16"],
  [0x22, "topicAliasMaximum", "u16"],
  [0x23, "topicAlias", "u16"],
  [0x24, "maximumQoS", "byte"],
  [0x25, "retainAvailable", "byte"],
  [0x26, "userProperties", "pair"],
  [0x27, "maximumPacketSize", "u32"],
  [0x28, "wildcardSubscriptionAvailable", "byte"],
  [0x29, "subscriptionIdentifierAvailable", "byte"],
  [0x2a, "sharedSubscriptionAvailable", "byte"],
];

export const PROPERTY_BY_ID = new Map(TABLE.map(([id, name, kind]) => [id, { name, kind }]));
export const PROPERTY_BY_NAME = new Map(TABLE.map(([id, name, kind]) => [name, { id, kind }]));
/** Properties that may appear more than once. */
export const REPEATABLE = new Set<keyof MqttProperties>(["userProperties", "subscriptionIdentifiers"]);
