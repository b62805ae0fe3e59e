// Kept at its old path for suites/mqtt-conformance.ts and mqtt-reconnect-conformance.ts only, which are
// being rewritten: once they import from harness/node/mqtt-limits-fake.js, delete this file.
export type { LimitsFakeLog } from "./node/mqtt-limits-fake.js";
