export { createGateway } from "./gateway.js";
export type { Gateway, GatewayLimits, GatewayOptions, RequestInfo } from "./gateway.js";
export { HttpError } from "./http.js";
