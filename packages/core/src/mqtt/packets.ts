/** MQTT protocol level: 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
export type ProtocolVersion = 4 | 5;
export type QoS = 0 | 1 | 2;

/** MQTT 5 properties, by name. Present only on MQTT 5 packets. */
export interface MqttProperties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Uint8Array;
  /** Several on a PUBLISH that matched several subscriptions. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Uint8Array;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

export interface WillMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties?: MqttProperties;
}

export interface ConnectPacket {
  type: "connect";
  protocolVersion: ProtocolVersion;
  clientId: string;
  /** Clean session (3.1.1) or clean start (5.0). */
  clean: boolean;
  /** Seconds; 0 turns keepalive off. */
  keepalive: number;
  username?: string;
  password?: Uint8Array;
  will?: WillMessage;
  properties?: MqttProperties;
}

export interface ConnackPacket {
  type: "connack";
  sessionPresent: boolean;
  /** The 3.1.1 return code or the 5.0 reason code; 0 is success. */
  reasonCode: number;
  properties?: MqttProperties;
}

export interface PublishPacket {
  type: "publish";
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present for QoS 1 and 2. */
  packetId?: number;
  properties?: MqttProperties;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP. */
export interface AckPacket {
  type: "puback" | "pubrec" | "pubrel" | "pubcomp";
  packetId: number;
  /** MQTT 5 only; 0 (success) when absent. */
  reasonCode?: number;
  properties?: MqttProperties;
}

export interface MqttSubscription {
  topic: string;
  qos: QoS;
  /** MQTT 5: do not receive my own publications. */
  noLocal?: boolean;
  /** MQTT 5: keep the retain flag as published. */
  retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained on subscribe, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: "subscribe";
  packetId: number;
  subscriptions: MqttSubscription[];
  properties?: MqttProperties;
}

export interface SubackPacket {
  type: "suback";
  packetId: number;
  /** Granted QoS (0–2) or a failure code (0x80 and up) per subscription. */
  reasonCodes: number[];
  properties?: MqttProperties;
}

export interface UnsubscribePacket {
  type: "unsubscribe";
  packetId: number;
  topics: string[];
  properties?: MqttProperties;
}

export interface UnsubackPacket {
  type: "unsuback";
  packetId: number;
  /** MQTT 5 only. */
  reasonCodes?: number[];
  properties?: MqttProperties;
}

export interface PingPacket {
  type: "pingreq" | "pingresp";
}

export interface DisconnectPacket {
  type: "disconnect";
  /** MQTT 5 only; 0 (normal disconnection) when absent. */
  reasonCode?: number;
  properties?: MqttProperties;
}

export interface AuthPacket {
  type: "auth";
  reasonCode: number;
  properties?: MqttProperties;
}

export type MqttPacket =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingPacket
  | DisconnectPacket
  | AuthPacket;

export const PACKET_TYPES = [
  undefined,
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
] as const;

/** MQTT 5 reason codes the client sends or branches on. */
export const ReasonCode = {
  Success: 0x00,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  PacketTooLarge: 0x95,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  KeepAliveTimeout: 0x8d,
} as const;

/** The largest remaining length a four-byte variable integer can say. */
export const MAX_REMAINING_LENGTH = 268_435_455;
