import type { DestinationRule } from "@sockkit/core";
import type { Protocol } from "./target.js";

/** An allow entry: a destination rule, and what it is for the page and `GET /destinations`. */
export interface AllowEntry extends DestinationRule {
  /** What the destination speaks. @default guessed from the port: 6379-6380 redis, 1883 and 8883 mqtt, else tcp */
  protocol?: Protocol;
  /** A name to show. @default none */
  name?: string;
}

/** A destination as `GET /destinations` lists it. */
export interface ListedDestination {
  host: string;
  /** A port, or a range as the operator wrote it ("7000-7005"; "1-65535" for a rule without ports). */
  port: number | string;
  protocol: Protocol;
  name?: string;
  /** Whether it names one host and one port, so that the page can probe it with one click. */
  probe: boolean;
}

const PROTOCOLS = new Set<Protocol>(["redis", "mqtt", "tcp"]);

/** Splits the `allow` option into the rules the destination policy takes and the list `GET /destinations` shows. */
export function readAllow(allow: ReadonlyArray<string | AllowEntry>): {
  rules: DestinationRule[];
  listed: ListedDestination[];
} {
  if (!Array.isArray(allow)) throw new TypeError("allow must be an array of hosts or { host, ports } rules");
  const rules: DestinationRule[] = [];
  const listed: ListedDestination[] = [];
  for (const entry of allow) {
    const rule: AllowEntry = typeof entry === "string" ? { host: entry } : entry;
    if (rule.protocol !== undefined && !PROTOCOLS.has(rule.protocol))
      throw new TypeError(`allow entry ${rule.host}: protocol must be "redis", "mqtt" or "tcp"`);
    if (rule.name !== undefined && typeof rule.name !== "string")
      throw new TypeError(`allow entry ${rule.host}: name must be a string`);
    rules.push({
      host: rule.host,
      ...(rule.ports !== undefined ? { ports: rule.ports } : {}),
      ...(rule.apex !== undefined ? { apex: rule.apex } : {}),
    });
    const ports =
      rule.ports === undefined ? [] : Array.isArray(rule.ports) ? [...rule.ports] : [rule.ports as number | string];
    const single = (p: number | string) => typeof p === "number" || /^\d+$/.test(p);
    const exactHost = !rule.host.includes("/") && !rule.host.startsWith("*");
    // One entry per port, so that each is listed (and probed) on its own.
    for (const port of ports.length > 0 ? ports : ["1-65535"]) {
      const number = single(port) ? Number(port) : undefined;
      listed.push({
        host: rule.host,
        port: number ?? port,
        protocol: rule.protocol ?? guess(number),
        ...(rule.name !== undefined ? { name: rule.name } : {}),
        probe: exactHost && number !== undefined,
      });
    }
  }
  return { rules, listed };
}

function guess(port: number | undefined): Protocol {
  if (port === 6379 || port === 6380) return "redis";
  if (port === 1883 || port === 8883) return "mqtt";
  return "tcp";
}
