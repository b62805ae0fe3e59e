export { createGateway } from "./gateway.js";
export type { Gateway, GatewayLimits, GatewayOptions, RequestInfo } from "./options.js";
export { HttpError } from "./http.js";
export { probe } from "./probe.js";
export type { ProbeKind, ProbeOptions, ProbeResult, ProbeTarget } from "./probe.js";
export { replyToJson } from "./reply-json.js";
