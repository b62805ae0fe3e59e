// `@sockkit/core/redis`: the Redis client. Its errors (ReplyError, ClosedError, TimeoutError…) are
// exported by `@sockkit/core`, with every other error class.
export { createRedisClient, RedisBatch, RedisClient } from "./client.js";
export type { BatchResult, ReconnectOptions, RedisClientOptions } from "./client.js";
export { RedisCommands } from "./commands.js";
export { createRedisCluster, RedisCluster } from "./cluster/cluster.js";
export type { ClusterShardView } from "./cluster/cluster.js";
export type { RedisClusterOptions } from "./cluster/settings.js";
export { keySlot, SLOT_COUNT } from "./cluster/slot.js";
export type { ScanOptions, SetOptions, StreamEntry } from "./commands.js";
export type { CommandOptions } from "./connection.js";
export { RespDecoder, RESP_DEFAULT_LIMITS, RESP_MAX_BULK_LENGTH } from "./resp/decoder.js";
export type { RespDecoderOptions, RespLimits, RespValue } from "./resp/decoder.js";
export { CommandBatch, encodeCommand } from "./resp/encoder.js";
export type { RedisArgument } from "./resp/encoder.js";
export { parseRedisUrl } from "./url.js";
export type { RedisUrl } from "./url.js";
export type { PubSubMessage, RedisSubscribeOptions, RedisSubscription } from "./pubsub.js";
