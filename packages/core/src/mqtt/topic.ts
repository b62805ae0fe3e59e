const MAX_TOPIC_BYTES = 65535;
const encoder = new TextEncoder();

/**
 * Why `topic` cannot be a topic name to publish to, or undefined when it can:
 * non-empty, at most 65,535 UTF-8 bytes, no U+0000, no wildcard.
 */
export function topicNameProblem(topic: unknown): string | undefined {
  if (typeof topic !== "string") return `a topic must be a string, got ${topic === null ? "null" : typeof topic}`;
  if (topic.length === 0) return "a topic name cannot be empty";
  if (topic.includes("+") || topic.includes("#"))
    return `the topic name "${cut(topic)}" holds a wildcard (+ or #), which only filters may`;
  return commonProblem(topic);
}

/**
 * Why `filter` cannot be a topic filter to subscribe to, or undefined when it
 * can: `+` and `#` only as a whole level, `#` only last; `$share/group/filter`
 * with a group name free of wildcards and `/`.
 */
export function topicFilterProblem(filter: unknown): string | undefined {
  if (typeof filter !== "string")
    return `a topic filter must be a string, got ${filter === null ? "null" : typeof filter}`;
  if (filter.length === 0) return "a topic filter cannot be empty";
  const common = commonProblem(filter);
  if (common) return common;
  let rest = filter;
  if (filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    const group = slash === -1 ? "" : filter.slice(7, slash);
    if (group === "" || /[+#]/.test(group))
      return `the shared subscription "${cut(filter)}" needs a group name without wildcards`;
    rest = filter.slice(slash + 1);
    if (rest === "") return `the shared subscription "${cut(filter)}" has no filter after its group`;
  }
  const levels = rest.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      return `in "${cut(filter)}", # must be a whole level and the last one`;
    }
    if (level.includes("+") && level !== "+") return `in "${cut(filter)}", + must be a whole level`;
  }
  return undefined;
}

function commonProblem(text: string): string | undefined {
  if (text.includes("\u0000")) return "a topic cannot hold U+0000";
  if (hasLoneSurrogate(text)) return "a topic cannot hold a lone surrogate";
  if (text.length * 3 > MAX_TOPIC_BYTES && encoder.encode(text).length > MAX_TOPIC_BYTES)
    return `a topic is at most ${MAX_TOPIC_BYTES} bytes`;
  return undefined;
}

/**
 * Whether topic name `topic` matches filter `filter` (MQTT §4.7): `+` is one
 * level, `#` the rest (and the parent level), and a leading wildcard never
 * matches a topic starting with `$`. A `$share/group/` prefix is ignored.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter.startsWith("$share/")) filter = filter.slice(filter.indexOf("/", 7) + 1);
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  let f = 0;
  let t = 0;
  for (;;) {
    const fEnd = indexOrEnd(filter, f);
    const tEnd = indexOrEnd(topic, t);
    const level = filter.slice(f, fEnd);
    if (level === "#") return true;
    if (t > topic.length) {
      // The topic ran out: only "a/#" matching "a" is left.
      return false;
    }
    if (level !== "+" && level !== topic.slice(t, tEnd)) return false;
    const filterDone = fEnd === filter.length;
    const topicDone = tEnd === topic.length;
    if (filterDone && topicDone) return true;
    if (filterDone) return false;
    if (topicDone) {
      // "sport/#" matches "sport": the next filter level must be a final "#".
      return filter.slice(fEnd + 1) === "#";
    }
    f = fEnd + 1;
    t = tEnd + 1;
  }
}

function indexOrEnd(text: string, from: number): number {
  const i = text.indexOf("/", from);
  return i === -1 ? text.length : i;
}

function cut(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Whether `text` holds a UTF-16 surrogate without its pair (not encodable as UTF-8). */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    else return true;
  }
  return false;
}
