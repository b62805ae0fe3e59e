// Which MQTT topics a caller may publish to, and which filters it may subscribe to: MQTT topic
// filters (`sensors/+/temp`, `public/#`), per token.
import { topicFilterProblem, topicMatches } from "@sockkit/core/mqtt";

export interface TopicPolicy {
  readonly filters: readonly string[];
  /** Whether `topic` (a topic name) matches one of the filters. */
  allowsTopic(topic: string): boolean;
  /** Whether every topic `filter` can match is matched by one of the filters. */
  allowsFilter(filter: string): boolean;
}

/** Compiles topic filters (default: `["#"]`, every topic not starting with `$`). A malformed filter is a TypeError. */
export function createTopicPolicy(filters: readonly string[] = ["#"], what = "topic filter"): TopicPolicy {
  if (!Array.isArray(filters)) throw new TypeError(`the ${what}s must be an array of MQTT topic filters`);
  for (const filter of filters) {
    const problem = topicFilterProblem(filter);
    if (problem) throw new TypeError(`${what} ${JSON.stringify(filter)}: ${problem}`);
  }
  const list = Object.freeze([...filters]);
  return {
    filters: list,
    allowsTopic: (topic) => list.some((filter) => topicMatches(filter, topic)),
    allowsFilter: (filter) => list.some((allowed) => covers(allowed, filter)),
  };
}

/** Whether filter `outer` matches every topic filter `inner` matches (MQTT §4.7, including the `$` rule). */
export function covers(outer: string, inner: string): boolean {
  const a = unshared(outer).split("/");
  const b = unshared(inner).split("/");
  // A leading wildcard never matches a topic starting with "$"; a leading "$..." level in inner can.
  if ((a[0] === "#" || a[0] === "+") && b[0]!.startsWith("$")) return false;
  for (let i = 0; i < b.length; i++) {
    const outerLevel = a[i];
    const innerLevel = b[i]!;
    if (outerLevel === "#") return true;
    if (outerLevel === undefined) return false;
    if (innerLevel === "#") {
      // "x/#" also matches the parent "x": only "#" at the same level covers both.
      return false;
    }
    if (outerLevel === "+") continue;
    if (innerLevel === "+" || outerLevel !== innerLevel) return false;
  }
  // Inner is done: it also matched when outer continues only with a final "#" (a/# matches a).
  return a.length === b.length || (a.length === b.length + 1 && a[b.length] === "#");
}

function unshared(filter: string): string {
  return filter.startsWith("$share/") ? filter.slice(filter.indexOf("/", 7) + 1) : filter;
}
