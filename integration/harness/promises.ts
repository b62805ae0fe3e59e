// Kept at its old path for suites/mqtt-conformance.ts and mqtt-reconnect-conformance.ts only, which are
// being rewritten: once they import from harness/shared/promises.js, delete this file.
export * from "./shared/promises.js";
