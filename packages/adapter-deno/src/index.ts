export { connect, createConnect } from "./deno.js";
export type { DenoConnectOptions } from "./deno.js";
