// Kept at its old path for suites/mqtt-conformance.ts and mqtt-reconnect-conformance.ts only, which are
// being rewritten: once they import from harness/node/mqtt-session-fake.js, delete this file.
export type { SessionFakeLog } from "./node/mqtt-session-fake.js";
