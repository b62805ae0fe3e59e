export { connect, createConnect } from "./connect.js";
export type { NodeConnectOptions } from "./connect.js";
