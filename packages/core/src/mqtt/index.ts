export { MqttDecoder, MqttPacketTooLargeError, MqttProtocolError, encodePacket } from "./codec.js";
export type { MqttDecoderOptions } from "./codec.js";
export { MAX_REMAINING_LENGTH, ReasonCode } from "./packets.js";
export type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  MqttPacket,
  MqttProperties,
  PingPacket,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  MqttSubscription,
  UnsubackPacket,
  UnsubscribePacket,
  WillMessage,
} from "./packets.js";
export { topicFilterProblem, topicMatches, topicNameProblem } from "./topic.js";
export { createMqttClient, MqttClient } from "./client.js";
export { MqttReasonError } from "./reason.js";
export type { MqttMessage } from "./message.js";
export type {
  MqttAuthOptions,
  MqttClientOptions,
  MqttConnectionEvent,
  MqttParkedMessage,
  MqttReconnectOptions,
  PublishOptions,
  MqttSubscribeOptions,
} from "./options.js";
export { createMemoryStore } from "./store.js";
export type { MqttStore, StoredPacket } from "./store.js";
