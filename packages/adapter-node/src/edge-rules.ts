import ipaddr from "ipaddr.js";
import { DestinationDeniedError } from "@sockkit/core";

/**
 * The refusals Cloudflare's edge applies to `connect()`, for the opt-in
 * `edgeRules` mode. Each returns the error to reject with, or undefined.
 */
export const edgeRefusal = {
  port(display: string, port: number): DestinationDeniedError | undefined {
    return port === 25
      ? new DestinationDeniedError(display, "port 25 (SMTP) is refused on Cloudflare Workers")
      : undefined;
  },

  address(display: string, address: string): DestinationDeniedError | undefined {
    let parsed = ipaddr.parse(address);
    // A mapped IPv4 address reports the IPv6 "ipv4Mapped" range; judge the IPv4 inside.
    if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
      parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    }
    const range = parsed.range();
    return range === "unicast"
      ? undefined
      : new DestinationDeniedError(display, `${address} is a ${range} address, which Cloudflare Workers cannot reach`);
  },
};
