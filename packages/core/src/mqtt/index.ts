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
  // Unique across sockkit's entry points (the Redis client has a Subscription of its own).
  Subscription as MqttSubscription,
  UnsubackPacket,
  UnsubscribePacket,
  WillMessage,
} from "./packets.js";
export { topicFilterProblem, topicMatches, topicNameProblem } from "./topic.js";
export { createMqttClient, MqttClient, MqttReasonError } from "./client.js";
export type {
  MqttAuthOptions,
  MqttClientOptions,
  MqttConnectionEvent,
  MqttMessage,
  MqttParkedMessage,
  MqttReconnectOptions,
  PublishOptions,
  SubscribeOptions as MqttSubscribeOptions,
} from "./client.js";
export { createMemoryStore } from "./store.js";
export type { MqttStore, StoredPacket } from "./store.js";
