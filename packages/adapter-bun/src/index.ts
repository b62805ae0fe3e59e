export { connect, createConnect } from "./bun.js";
export type { BunConnectOptions } from "./bun.js";
