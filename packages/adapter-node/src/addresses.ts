import net from "node:net";
import type tls from "node:tls";

/** A `dns.lookup`-shaped function that answers every query with `addresses`. */
export function fixedLookup(addresses: readonly string[]): net.LookupFunction {
  const entries = addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, entries);
    else callback(null, entries[0]!.address, entries[0]!.family);
  }) as unknown as net.LookupFunction;
}

/** TLS's name for the peer: SNI (an IP literal too, as workerd sends) and the certificate check. */
export function tlsIdentity(hostname: string): tls.ConnectionOptions {
  return { host: hostname, servername: hostname };
}

export function localAddress(raw: net.Socket): string | undefined {
  const { localAddress: address, localPort: port } = raw;
  if (!address || port === undefined) return undefined;
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
