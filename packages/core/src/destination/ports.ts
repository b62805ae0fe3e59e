/**
 * Ports a rule admits: one port (`443`), a range (`"8000-8100"`), or a list
 * of those (`[80, 443, "8000-8100"]`).
 */
export type PortSpec = number | string | ReadonlyArray<number | string>;

/** Inclusive ranges, as parsed from a {@link PortSpec}. */
export type PortRanges = ReadonlyArray<readonly [from: number, to: number]>;

export const ALL_PORTS: PortRanges = [[1, 65535]];

/** Parses a port spec, throwing a `TypeError` that names the bad entry. */
export function parsePorts(spec: PortSpec | undefined, where: string): PortRanges {
  if (spec === undefined) return ALL_PORTS;
  const entries = Array.isArray(spec) ? spec : [spec];
  if (entries.length === 0)
    throw new TypeError(`${where}: the port list is empty (leave ports out to allow every port)`);
  return entries.map((entry: unknown) => parseEntry(entry, where));
}

function parseEntry(entry: unknown, where: string): readonly [number, number] {
  if (typeof entry === "number") return [checkPort(entry, where), checkPort(entry, where)];
  if (typeof entry === "string") {
    const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(entry);
    if (match) {
      const from = checkPort(Number(match[1]), where);
      const to = checkPort(Number(match[2] ?? match[1]), where);
      if (from > to) throw new TypeError(`${where}: the port range "${entry}" runs backwards`);
      return [from, to];
    }
  }
  throw new TypeError(
    `${where}: ${JSON.stringify(entry) ?? String(entry)} is not a port, a "from-to" range, or a list of those`,
  );
}

function checkPort(port: number, where: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`${where}: ${port} is not a port (an integer from 1 to 65535)`);
  }
  return port;
}

export function portsInclude(ranges: PortRanges, port: number): boolean {
  return ranges.some(([from, to]) => port >= from && port <= to);
}

export function describePorts(ranges: PortRanges): string {
  if (ranges === ALL_PORTS) return "any port";
  return `port ${ranges.map(([from, to]) => (from === to ? `${from}` : `${from}-${to}`)).join(", ")}`;
}
