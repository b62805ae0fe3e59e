// Kept at its old path for suites/mqtt-conformance.ts and mqtt-reconnect-conformance.ts only, which are
// being rewritten: once they import from harness/shared/control-client.js, delete this file.
export * from "./shared/control-client.js";
