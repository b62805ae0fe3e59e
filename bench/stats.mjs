// What every bench reports with: the median of its runs, the machine it ran on, and a loop that
// alternates in-process contenders (a warm-up round first, off the record).
import os from "node:os";

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** "2026-11-27, Node v20.20.2, 2 × AMD EPYC" */
export const machine = () => `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`;

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
