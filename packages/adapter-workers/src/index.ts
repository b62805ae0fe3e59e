export { connect, rawConnect } from "./connect.js";
export { mapWorkersError } from "./wrap.js";
