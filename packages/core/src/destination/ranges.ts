import ipaddr from "ipaddr.js";

type Range = readonly [network: string, bits: number, label: string];

// IANA's IPv4 special-purpose registry (RFC 6890 and successors), less the
// anycast blocks that are globally reachable (AS112, AMT), plus multicast.
const IPV4_DENIED: readonly Range[] = [
  ["0.0.0.0", 8, "this network"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "shared, carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local, cloud metadata"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.0.2.0", 24, "documentation"],
  ["192.88.99.0", 24, "deprecated 6to4 relay"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
  // Public addresses that are cloud metadata endpoints all the same.
  ["168.63.129.16", 32, "Azure WireServer, cloud metadata"],
];

// Inside 2000::/3, the only global unicast space; anything outside it is refused.
const IPV6_DENIED: readonly Range[] = [
  ["2001::", 32, "Teredo"],
  ["2001::", 23, "IETF protocol assignments"],
  ["2001:db8::", 32, "documentation"],
  ["3fff::", 20, "documentation"],
];

const parsedV4 = IPV4_DENIED.map(
  ([net, bits, label]) => [ipaddr.IPv4.parse(net), bits, label, `${net}/${bits}`] as const,
);
const parsedV6 = IPV6_DENIED.map(
  ([net, bits, label]) => [ipaddr.IPv6.parse(net), bits, label, `${net}/${bits}`] as const,
);
const GLOBAL_UNICAST = ipaddr.IPv6.parse("2000::");
const NAT64 = ipaddr.IPv6.parse("64:ff9b::");
const SIX_TO_FOUR = ipaddr.IPv6.parse("2002::");

const IPV6_OUTSIDE_GLOBAL: readonly Range[] = [
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["64:ff9b:1::", 48, "local-use NAT64"],
  ["100::", 64, "discard-only"],
  ["fc00::", 7, "unique local, private"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local"],
  ["ff00::", 8, "multicast"],
];
const parsedOutside = IPV6_OUTSIDE_GLOBAL.map(
  ([net, bits, label]) => [ipaddr.IPv6.parse(net), bits, label, `${net}/${bits}`] as const,
);

/**
 * Why `address` is not a public destination, as a predicate ("is in
 * 127.0.0.0/8 (loopback)"), or undefined when it is public. IPv4
 * addresses embedded in IPv6 (NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are
 * judged by the IPv4 address they reach; mapped and compatible forms never
 * get here (canonicalization turned them into IPv4).
 */
export function nonPublicReason(address: ipaddr.IPv4 | ipaddr.IPv6): string | undefined {
  if (address.kind() === "ipv4") {
    for (const [net, bits, label, cidr] of parsedV4) {
      if (address.match(net, bits)) return `is in ${cidr} (${label})`;
    }
    return undefined;
  }
  const v6 = address as ipaddr.IPv6;
  if (v6.match(NAT64, 96)) return embedded("NAT64", v4From(v6.parts[6]!, v6.parts[7]!));
  if (!v6.match(GLOBAL_UNICAST, 3)) {
    for (const [net, bits, label, cidr] of parsedOutside) {
      if (v6.match(net, bits)) return `is in ${cidr} (${label})`;
    }
    return "is outside the global unicast range 2000::/3";
  }
  if (v6.match(SIX_TO_FOUR, 16)) return embedded("6to4", v4From(v6.parts[1]!, v6.parts[2]!));
  for (const [net, bits, label, cidr] of parsedV6) {
    if (v6.match(net, bits)) return `is in ${cidr} (${label})`;
  }
  return undefined;
}

function embedded(scheme: string, inner: ipaddr.IPv4): string | undefined {
  const reason = nonPublicReason(inner);
  return reason === undefined ? undefined : `is a ${scheme} address of ${inner.toString()}, which ${reason}`;
}

function v4From(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
}
