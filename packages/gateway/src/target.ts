import type { DestinationPolicy } from "@sockkit/core";
import { HttpError, badRequest } from "./http.js";

/** Where an operation goes, as the caller named it. */
export interface Target {
  host: string;
  port: number;
  tls: boolean;
}

export type Protocol = "redis" | "mqtt" | "tcp";

const DEFAULT_PORTS: Record<Protocol, number | undefined> = { redis: 6379, mqtt: 1883, tcp: undefined };

/** The target named by `host`, `port` and `tls` in a query or a JSON body, or a 400 naming the field. */
export function destination(source: Record<string, unknown>, protocol: Protocol): Target {
  const host = source.host;
  if (typeof host !== "string" || host === "") throw badRequest("host", "host is required");
  if (host.length > 255) throw badRequest("host", "host is longer than 255 characters");
  const rawPort = source.port ?? DEFAULT_PORTS[protocol];
  const port = typeof rawPort === "string" && /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : rawPort;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
    throw badRequest("port", "port must be an integer from 1 to 65535");
  const tls = source.tls === true || source.tls === "true" || source.tls === "1";
  if (source.tls !== undefined && !tls && source.tls !== false && source.tls !== "false" && source.tls !== "0")
    throw badRequest("tls", "tls must be true or false");
  return { host, port, tls };
}

/** `protocol://host:port`, as logs and traces name an upstream. */
export function describeTarget(protocol: Protocol, target: Target): string {
  return `${protocol}${target.tls ? "s" : ""}://${at(target).hostname}:${target.port}`;
}

/** The address `connect` takes: an IPv6 literal in brackets. */
export function at(target: Target): { hostname: string; port: number } {
  return {
    hostname: target.host.includes(":") && !target.host.startsWith("[") ? `[${target.host}]` : target.host,
    port: target.port,
  };
}

/** Named destinations only: refuses one that is merely public (403). */
export function requireAllowlisted(policy: DestinationPolicy, target: Target, route: string): void {
  const decision = policy.check(target.host, target.port);
  if (decision.allowed && decision.rule === "publicOnly") {
    throw new HttpError(
      403,
      "EDESTINATION_DENIED",
      `${route} only reaches destinations named in the gateway's allow list`,
    );
  }
}
