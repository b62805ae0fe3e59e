// What every bench reports with: the median of its runs, the machine it ran on, and a loop that
// alternates in-process contenders (a warm-up round first, off the record).
import os from "node:os";

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** "2026-11-27, Node v20.20.2, 2 × AMD EPYC" */
export const machine = () =>
  `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`;

/** Calls `measure(name, fn)` for each contender in turn, `rounds` times after a warm-up; returns each one's measurements. */
export function alternate(contenders, rounds, measure) {
  const results = {};
  for (let round = -1; round < rounds; round++) {
    for (const [name, fn] of Object.entries(contenders)) {
      const value = measure(name, fn);
      if (round >= 0) (results[name] ??= []).push(value);
    }
  }
  return results;
}

/**
 * A full garbage collection, for timed rows that start from a collected heap and pay, on the
 * clock, for collecting their own garbage: otherwise whichever client's row crosses V8's
 * old-space limit pays for the garbage of the rows and clients before it. Needs `node --expose-gc`.
 */
export function collectGarbage() {
  if (typeof globalThis.gc !== "function")
    throw new Error(`${process.argv[1]} needs \`node --expose-gc\` (npm run bench passes it)`);
  globalThis.gc();
}
