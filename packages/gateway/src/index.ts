export { createGateway } from "./gateway.js";
export type { Gateway, GatewayLimits, GatewayOptions, RequestInfo } from "./options.js";
export { HttpError } from "./http.js";
export { probe } from "./probe.js";
export type { ProbeKind, ProbeOptions, ProbeResult, ProbeTarget } from "./probe.js";
export { replyToJson } from "./reply-json.js";
export type { AccessPolicy, TokenGrant } from "./policy/access.js";
export {
  createCommandPolicy,
  REDIS_COMMAND_TABLE_VERSION,
  REDIS_DEFAULT_RULES,
  REDIS_READ_ONLY_RULES,
} from "./policy/commands.js";
export type { CommandDecision, CommandPolicy, RedisCommandRules } from "./policy/commands.js";
export type { RequestLogEntry, RequestLogger } from "./telemetry/request-log.js";
export type { AllowEntry, ListedDestination } from "./allow.js";
