import { isSockkitError } from "@sockkit/core";
import type { Call } from "./context.js";
import { describeTarget, type Protocol, type Target } from "./target.js";

/**
 * Runs one upstream operation for `call`: names the upstream in its record and times the operation
 * into the upstream latency histogram (outcome "ok" or "error"; a refused destination is not timed).
 */
export async function upstream<T>(call: Call, protocol: Protocol, target: Target, run: () => Promise<T>): Promise<T> {
  call.record.upstream = describeTarget(protocol, target);
  const started = Date.now();
  const observe = (outcome: string) =>
    call.context.metrics.upstreamDuration.observe({ protocol, outcome }, (Date.now() - started) / 1000);
  try {
    const result = await run();
    observe("ok");
    return result;
  } catch (error) {
    // A destination the policy refused was never reached: a denial, not an upstream's latency.
    if (!(isSockkitError(error) && error.code === "EDESTINATION_DENIED")) observe("error");
    throw error;
  }
}
