import ipaddr from "ipaddr.js";
import { canonicalizeHostResult, describeType, quote, type CanonicalHost } from "./host.js";
import { nonPublicReason } from "./ranges.js";
import { ALL_PORTS, describePorts, parsePorts, portsInclude, type PortRanges, type PortSpec } from "./ports.js";

/** One allow entry. */
export interface DestinationRule {
  /**
   * What the rule admits: an exact hostname (`"db.example.com"`), a wildcard
   * (`"*.example.com"`: one or more labels in front of the suffix), an IP
   * address (`"10.0.0.5"`, `"::1"`) or a CIDR range (`"10.0.0.0/8"`,
   * `"fd00::/8"`). Hostnames and addresses are canonicalized like the hosts
   * they are matched against. Names match names only; a CIDR rule never
   * admits a name, whatever it resolves to.
   */
  host: string;
  /** Ports the rule admits: `443`, `"8000-8100"` or a list of those. @default every port (1-65535) */
  ports?: PortSpec;
  /** For a `"*.suffix"` rule, also admit the bare suffix. @default false */
  apex?: boolean;
}

/** Options for {@link createDestinationPolicy}. */
export interface DestinationPolicyOptions {
  /**
   * Allow entries, as rules or as strings (a string is `{ host }`, every
   * port). Without `publicOnly` these are the whole policy: anything they do
   * not match is denied. With `publicOnly` they are exceptions: an exact host
   * or address/CIDR entry admits its destination even inside a denied range.
   * @default []
   */
  allow?: ReadonlyArray<string | DestinationRule>;
  /**
   * Admit public destinations that no allow entry matched: deny loopback,
   * private, link-local (cloud metadata), CGNAT, multicast, reserved and
   * documentation ranges of IPv4 and IPv6, and IPv4 addresses reached through
   * NAT64 or 6to4. A name is admitted only after every address it resolves
   * to is checked (adapter-node does this; see {@link guardConnect}).
   * `localhost` and `*.localhost` are denied by name.
   * @default false
   */
  publicOnly?: boolean;
  /** Ports `publicOnly` admits. @default every port (1-65535) */
  publicPorts?: PortSpec;
}

/** A destination the policy admits. */
export interface AllowedDestination {
  allowed: true;
  /** The canonical host: an IP address (IPv6 without brackets) or a lower-case ASCII name. */
  host: string;
  kind: "ipv4" | "ipv6" | "name";
  port: number;
  /** What admitted it: the allow entry (e.g. `"*.example.com, port 443"`) or `"publicOnly"`. */
  rule: string;
  /**
   * True for a name that `publicOnly` admits only if every address it
   * resolves to passes {@link DestinationPolicy.checkResolved}.
   */
  resolve: boolean;
}

/** A destination the policy refuses. */
export interface DeniedDestination {
  allowed: false;
  /** The canonical host, or the input as given (cut short) when it is not a valid host. */
  host: string;
  port: number | undefined;
  /** Why, e.g. `"127.0.0.1 is in 127.0.0.0/8 (loopback)"`. */
  reason: string;
}

export type DestinationDecision = AllowedDestination | DeniedDestination;

/** A destination policy: see {@link createDestinationPolicy}. */
export interface DestinationPolicy {
  /** Judges a host and port. Never throws: malformed input is denied with the reason. */
  check(host: unknown, port: unknown): DestinationDecision;
  /**
   * Judges the addresses a name resolved to: all must be admitted (by an
   * address or CIDR entry, or by `publicOnly`), or the name is denied.
   */
  checkResolved(host: string, port: number, addresses: readonly string[]): DestinationDecision;
  /** Whether `publicOnly` is on. */
  readonly publicOnly: boolean;
}

type Matcher =
  | { type: "name"; name: string }
  | { type: "suffix"; suffix: string; apex: boolean }
  | { type: "cidr"; network: ipaddr.IPv4 | ipaddr.IPv6; bits: number };

interface CompiledRule {
  matcher: Matcher;
  ports: PortRanges;
  text: string;
}

/**
 * Builds a destination policy. Precedence, in order: malformed hosts and
 * ports are denied; an allow entry that matches host and port admits; then
 * `publicOnly` (when on) admits public addresses, and names subject to a
 * check of what they resolve to; everything else is denied.
 *
 * With `publicOnly`, a wildcard entry does not exempt a name from that
 * check: only exact names and address/CIDR entries do.
 */
export function createDestinationPolicy(options: DestinationPolicyOptions = {}): DestinationPolicy {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`createDestinationPolicy() expects an options object, got ${describeType(options)}`);
  }
  rejectUnknownKeys(options, ["allow", "publicOnly", "publicPorts"], "createDestinationPolicy()");
  const { allow = [], publicOnly = false, publicPorts } = options;
  if (!Array.isArray(allow)) throw new TypeError(`allow must be an array of rules, got ${describeType(allow)}`);
  if (typeof publicOnly !== "boolean")
    throw new TypeError(`publicOnly must be a boolean, got ${describeType(publicOnly)}`);
  const rules = allow.map((rule: unknown, index) => compileRule(rule, `allow[${index}]`));
  const publicPortRanges = parsePorts(publicPorts, "publicPorts");

  const addressRule = (address: ipaddr.IPv4 | ipaddr.IPv6, port: number) =>
    rules.find(
      (rule) => rule.matcher.type === "cidr" && matchesCidr(address, rule.matcher) && portsInclude(rule.ports, port),
    );

  const judgeAddress = (
    canonical: CanonicalHost & { kind: "ipv4" | "ipv6" },
    port: number,
    via?: string,
    portAdmitted = false,
  ): DestinationDecision => {
    const rule = addressRule(canonical.address, port);
    if (rule) return allowed(canonical, port, rule.text, false);
    if (!publicOnly) {
      return denied(
        via ?? canonical.host,
        port,
        via === undefined
          ? `no allow entry matches ${canonical.host}, port ${port}`
          : `${via} resolves to ${canonical.host}, which no allow entry matches (port ${port})`,
      );
    }
    const reason = nonPublicReason(canonical.address);
    if (reason !== undefined) {
      return denied(
        via ?? canonical.host,
        port,
        via === undefined ? `${canonical.host} ${reason}` : `${via} resolves to ${canonical.host}, which ${reason}`,
      );
    }
    if (!portAdmitted && !portsInclude(publicPortRanges, port)) {
      return denied(
        via ?? canonical.host,
        port,
        `port ${port} is not among the public ports (${describePorts(publicPortRanges)})`,
      );
    }
    return allowed(canonical, port, "publicOnly", false);
  };

  const checkHost = (host: unknown, port: unknown): DestinationDecision => {
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      return denied(
        typeof host === "string" ? host.slice(0, 64) : describeType(host),
        undefined,
        `the port must be an integer from 1 to 65535, got ${typeof port === "number" ? port : describeType(port)}`,
      );
    }
    const canonical = canonicalizeHostResult(host);
    if (canonical.kind === "invalid")
      return denied(typeof host === "string" ? host.slice(0, 64) : describeType(host), port, canonical.reason);
    if (canonical.kind !== "name") return judgeAddress(canonical, port);

    const name = canonical.host;
    const named = (rule: CompiledRule) =>
      (rule.matcher.type === "name" && rule.matcher.name === name) ||
      (rule.matcher.type === "suffix" && matchesSuffix(name, rule.matcher));
    const exact = rules.find((rule) => rule.matcher.type === "name" && named(rule) && portsInclude(rule.ports, port));
    if (exact) return allowed(canonical, port, exact.text, false);
    const wildcard = rules.find(
      (rule) => rule.matcher.type === "suffix" && named(rule) && portsInclude(rule.ports, port),
    );
    if (publicOnly) {
      if (name === "localhost" || name.endsWith(".localhost"))
        return denied(name, port, `${name} is a loopback name (RFC 6761)`);
      // A wildcard entry admits its ports, but the name's addresses are still checked.
      if (wildcard) return allowed(canonical, port, wildcard.text, true);
      // A CIDR entry may admit what the name resolves to on this port.
      const cidrPort = rules.some((rule) => rule.matcher.type === "cidr" && portsInclude(rule.ports, port));
      if (!portsInclude(publicPortRanges, port) && !cidrPort) {
        return denied(name, port, `port ${port} is not among the public ports (${describePorts(publicPortRanges)})`);
      }
      return allowed(canonical, port, "publicOnly", true);
    }
    if (wildcard) return allowed(canonical, port, wildcard.text, false);
    const near = rules.find(named);
    return denied(
      name,
      port,
      near ? `port ${port} is not allowed for ${name} (${near.text})` : `no allow entry matches ${name}`,
    );
  };

  return {
    publicOnly,

    check(host, port) {
      try {
        return checkHost(host, port);
      } catch {
        // Only a hostile object (a revoked Proxy, a throwing getter) gets here.
        return denied("(unreadable)", undefined, "the host or port could not be read");
      }
    },

    checkResolved(host, port, addresses) {
      try {
        const byName = checkHost(host, port);
        if (!byName.allowed || !byName.resolve) return byName;
        if (!Array.isArray(addresses) || addresses.length === 0)
          return denied(byName.host, port, `${byName.host} resolved to no address`);
        // A wildcard entry has already admitted the port; publicOnly's ports do not apply then.
        const portAdmitted = byName.rule !== "publicOnly";
        let last: DestinationDecision | undefined;
        for (const text of addresses) {
          const canonical = canonicalizeHostResult(text);
          if (canonical.kind !== "ipv4" && canonical.kind !== "ipv6") {
            return denied(
              byName.host,
              port,
              `${byName.host} resolved to ${typeof text === "string" ? quote(text) : describeType(text)}, which is not an IP address`,
            );
          }
          last = judgeAddress(canonical, port, byName.host, portAdmitted);
          if (!last.allowed) return last;
        }
        return {
          ...(last as AllowedDestination),
          host: byName.host,
          kind: "name",
          resolve: false,
          rule: portAdmitted ? byName.rule : (last as AllowedDestination).rule,
        };
      } catch {
        return denied("(unreadable)", undefined, "the host, port or addresses could not be read");
      }
    },
  };
}

/**
 * An allowlist: {@link createDestinationPolicy} with `allow: rules`. Without
 * `publicOnly` in `options`, only what a rule matches is admitted.
 */
export function createAllowlist(
  rules: ReadonlyArray<string | DestinationRule>,
  options: Omit<DestinationPolicyOptions, "allow"> = {},
): DestinationPolicy {
  return createDestinationPolicy({ ...options, allow: rules });
}

function compileRule(rule: unknown, where: string): CompiledRule {
  const spec: Partial<DestinationRule> = typeof rule === "string" ? { host: rule } : (rule as Partial<DestinationRule>);
  if (typeof spec !== "object" || spec === null || typeof spec.host !== "string") {
    throw new TypeError(`${where}: a rule is a host string or { host, ports?, apex? }, got ${describeType(rule)}`);
  }
  if (typeof rule !== "string") rejectUnknownKeys(spec, ["host", "ports", "apex"], where);
  const { host } = spec;
  const ports = parsePorts(spec.ports, `${where} (${quote(host)})`);
  const portText = ports === ALL_PORTS ? "" : `, ${describePorts(ports)}`;
  if (spec.apex !== undefined && typeof spec.apex !== "boolean")
    throw new TypeError(`${where}: apex must be a boolean`);

  if (host.includes("/")) return { matcher: compileCidr(host, where), ports, text: `${host}${portText}` };
  if (host.startsWith("*.")) {
    const suffix = canonicalizeHostResult(host.slice(2));
    if (suffix.kind !== "name") {
      throw new TypeError(
        `${where}: ${quote(host)} needs a hostname after "*." (${suffix.kind === "invalid" ? suffix.reason : "an IP address cannot take a wildcard"})`,
      );
    }
    return {
      matcher: { type: "suffix", suffix: suffix.host, apex: spec.apex === true },
      ports,
      text: `*.${suffix.host}${portText}`,
    };
  }
  if (spec.apex !== undefined) throw new TypeError(`${where}: apex only applies to a "*.suffix" rule`);
  if (host.includes("%"))
    throw new TypeError(
      `${where}: ${quote(host)}: a zone cannot be matched (policies judge addresses, not interfaces)`,
    );
  if (host.includes("*"))
    throw new TypeError(
      `${where}: ${quote(host)}: a wildcard is only allowed as a whole first label ("*.example.com")`,
    );
  const canonical = canonicalizeHostResult(host);
  if (canonical.kind === "invalid") throw new TypeError(`${where}: ${canonical.reason}`);
  if (canonical.kind === "name")
    return { matcher: { type: "name", name: canonical.host }, ports, text: `${canonical.host}${portText}` };
  const bits = canonical.kind === "ipv4" ? 32 : 128;
  return { matcher: { type: "cidr", network: canonical.address, bits }, ports, text: `${canonical.host}${portText}` };
}

function compileCidr(text: string, where: string): Matcher {
  const slash = text.lastIndexOf("/");
  const bitsText = text.slice(slash + 1);
  const canonical = canonicalizeHostResult(text.slice(0, slash));
  if (canonical.kind !== "ipv4" && canonical.kind !== "ipv6")
    throw new TypeError(`${where}: ${quote(text)} is not a CIDR range (an address, "/", a prefix length)`);
  // IPv4-mapped IPv6 hosts are canonicalized to IPv4, so a mapped range must be too.
  const mapped = canonical.kind === "ipv4" && text.includes(":");
  const max = canonical.kind === "ipv4" ? 32 : 128;
  let bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : Number.NaN;
  if (mapped) bits -= 96;
  if (!(bits >= 0 && bits <= max)) throw new TypeError(`${where}: ${quote(text)} has an invalid prefix length`);
  const network = canonical.address;
  const masked =
    canonical.kind === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(`${canonical.host}/${bits}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${canonical.host}/${bits}`);
  if (masked.toString() !== network.toString()) {
    throw new TypeError(
      `${where}: ${quote(text)} has host bits set; did you mean ${masked.toString()}/${mapped ? bits + 96 : bits}?`,
    );
  }
  return { type: "cidr", network, bits };
}

function rejectUnknownKeys(object: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new TypeError(`${where}: unknown option "${key}" (known: ${known.join(", ")})`);
  }
}

function matchesCidr(address: ipaddr.IPv4 | ipaddr.IPv6, matcher: Matcher & { type: "cidr" }): boolean {
  return address.kind() === matcher.network.kind() && address.match(matcher.network, matcher.bits);
}

function matchesSuffix(name: string, matcher: Matcher & { type: "suffix" }): boolean {
  return (
    (matcher.apex && name === matcher.suffix) ||
    (name.length > matcher.suffix.length + 1 && name.endsWith(`.${matcher.suffix}`))
  );
}

function allowed(canonical: CanonicalHost, port: number, rule: string, resolve: boolean): AllowedDestination {
  return { allowed: true, host: canonical.host, kind: canonical.kind, port, rule, resolve };
}

function denied(host: string, port: number | undefined, reason: string): DeniedDestination {
  return { allowed: false, host, port, reason };
}
