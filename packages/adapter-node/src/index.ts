export { connect, createConnect } from "./connect.js";
export type { EdgeRules, NodeConnect, NodeConnectOptions } from "./connect.js";
