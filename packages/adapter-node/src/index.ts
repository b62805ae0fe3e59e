export { connect, createConnect } from "./connect.js";
export type { NodeConnect, NodeConnectOptions } from "./connect.js";
