import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  connectWithFallback,
  connectWithRetry,
  createAllowlist,
  createDestinationPolicy,
  guardConnect,
  type Connect,
  type DestinationPolicy,
  type SocketLike,
} from "../src/index.js";
import { withDestinationPolicy } from "../src/adapter.js";

/** Every spelling of an IPv4 address that a resolver (inet_aton) or the URL parser reads as that address. */
function ipv4Encodings([a, b, c, d]: readonly number[]): string[] {
  const n = ((a! << 24) >>> 0) + (b! << 16) + (c! << 8) + d!;
  const oct = (x: number) => `0${x.toString(8)}`;
  const hex = (x: number) => `0x${x.toString(16)}`;
  const v6 = (p: number, q: number) => ((p << 8) | q).toString(16);
  return [
    `${a}.${b}.${c}.${d}`,
    `${a}.${b}.${c}.${d}.`,
    `${n}`,
    hex(n),
    hex(n).toUpperCase().replace("0X", "0x"),
    `0${n.toString(8)}`,
    `${oct(a!)}.${oct(b!)}.${oct(c!)}.${oct(d!)}`,
    `${hex(a!)}.${hex(b!)}.${hex(c!)}.${hex(d!)}`,
    `${hex(a!)}.${b}.${oct(c!)}.${d}`,
    `${a}.${b}.${(c! << 8) + d!}`,
    `${a}.${(b! << 16) + (c! << 8) + d!}`,
    `${a}.${hex((b! << 16) + (c! << 8) + d!)}`,
    `0${oct(a!)}.${b}.${c}.${d}`,
    `::ffff:${a}.${b}.${c}.${d}`,
    `[::ffff:${a}.${b}.${c}.${d}]`,
    `[0:0:0:0:0:ffff:${v6(a!, b!)}:${v6(c!, d!)}]`,
    `[0000:0000:0000:0000:0000:FFFF:${v6(a!, b!).toUpperCase()}:${v6(c!, d!)}]`,
    `[::ffff:${v6(a!, b!)}:${v6(c!, d!)}%eth0]`,
  ];
}

/** Spellings of one IPv6 address: compressed, expanded, upper-case, bracketed, with a zone. */
function ipv6Encodings(parts: readonly number[]): string[] {
  const full = parts.map((p) => p.toString(16).padStart(4, "0")).join(":");
  const short = parts.map((p) => p.toString(16)).join(":");
  return [full, short, full.toUpperCase(), `[${short}]`, `[${full}%1]`, `${short}%eth0`];
}

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
// Bias towards the interesting space: loopback, private, link-local, CGNAT, mapped.
const interestingIpv4 = fc.oneof(
  ipv4,
  fc.tuple(
    fc.constantFrom(0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255),
    fc.nat(255),
    fc.nat(255),
    fc.nat(255),
  ),
);
const ipv6 = fc.oneof(
  fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }),
  fc
    .tuple(
      fc.constantFrom(0, 0x64, 0x2001, 0x2002, 0xfc00, 0xfd00, 0xfe80, 0xff02, 0x2606),
      fc.array(fc.nat(0xffff), { minLength: 7, maxLength: 7 }),
    )
    .map(([head, rest]) => [head, ...rest]),
);
const cidrRule = fc.oneof(
  fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([[a, b, c, d], bits]) => {
    const n = bits === 0 ? 0 : ((((a << 24) >>> 0) + (b << 16) + (c << 8) + d) >>> (32 - bits)) << (32 - bits);
    const v = n >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${bits}`;
  }),
  fc.constantFrom("127.0.0.0/8", "10.0.0.0/8", "::1/128", "fd00::/8", "2001:db8::/32", "::ffff:169.254.0.0/112"),
);

const decisionOf = (policy: DestinationPolicy, host: string, port = 443) => {
  const d = policy.check(host, port);
  return d.allowed ? { allowed: true, host: d.host, rule: d.rule } : { allowed: false };
};

describe("destination policy: every encoding of an address gets the same decision", () => {
  it("IPv4 under publicOnly, with random CIDR exceptions", () => {
    fc.assert(
      fc.property(interestingIpv4, fc.array(cidrRule, { maxLength: 3 }), (address, rules) => {
        const policy = createDestinationPolicy({ publicOnly: true, allow: rules });
        const [first, ...rest] = ipv4Encodings(address);
        const expected = decisionOf(policy, first!);
        expect(policy.check(first!, 443).host).toBe(address.join("."));
        for (const encoding of rest) expect([encoding, decisionOf(policy, encoding)]).toEqual([encoding, expected]);
      }),
      { numRuns: 400 },
    );
  });

  it("IPv4 under a plain allowlist", () => {
    fc.assert(
      fc.property(interestingIpv4, fc.array(cidrRule, { minLength: 1, maxLength: 3 }), (address, rules) => {
        const policy = createAllowlist(rules);
        const [first, ...rest] = ipv4Encodings(address);
        const expected = decisionOf(policy, first!);
        for (const encoding of rest) expect([encoding, decisionOf(policy, encoding)]).toEqual([encoding, expected]);
      }),
      { numRuns: 300 },
    );
  });

  it("IPv6 under publicOnly", () => {
    fc.assert(
      fc.property(ipv6, fc.array(cidrRule, { maxLength: 2 }), (parts, rules) => {
        const policy = createDestinationPolicy({ publicOnly: true, allow: rules });
        const [first, ...rest] = ipv6Encodings(parts);
        const expected = decisionOf(policy, first!);
        for (const encoding of rest) expect([encoding, decisionOf(policy, encoding)]).toEqual([encoding, expected]);
      }),
      { numRuns: 400 },
    );
  });

  it("names: case, one trailing dot and Unicode forms match the same rule", () => {
    const policy = createAllowlist(["*.example.com", "bücher.de"]);
    for (const host of ["api.example.com", "API.EXAMPLE.COM", "api.example.com.", "ａｐｉ.ｅｘａｍｐｌｅ.ｃｏｍ"]) {
      expect(policy.check(host, 443)).toMatchObject({ allowed: true, host: "api.example.com", rule: "*.example.com" });
    }
    for (const host of ["bücher.de", "BÜCHER.DE", "xn--bcher-kva.de", "xn--bcher-kva.de."]) {
      expect(policy.check(host, 443)).toMatchObject({ allowed: true, host: "xn--bcher-kva.de" });
    }
  });

  it("never throws on arbitrary input, and denies what is not a host", () => {
    const policy = createDestinationPolicy({ publicOnly: true });
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 40 }), fc.anything()),
        fc.anything(),
        (host, port) => {
          const decision = policy.check(host, port);
          if (!decision.allowed) expect(decision.reason.length).toBeGreaterThan(0);
          else expect(typeof host).toBe("string");
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("destination policy: rules", () => {
  it("a wildcard matches one or more labels, never the bare suffix unless apex is asked for", () => {
    const policy = createAllowlist(["*.example.com", { host: "*.apex.test", apex: true }]);
    expect(policy.check("a.example.com", 1).allowed).toBe(true);
    expect(policy.check("a.b.example.com", 1).allowed).toBe(true);
    expect(policy.check("example.com", 1).allowed).toBe(false);
    expect(policy.check("badexample.com", 1).allowed).toBe(false);
    expect(policy.check("example.com.evil.test", 1).allowed).toBe(false);
    expect(policy.check("apex.test", 1)).toMatchObject({ allowed: true, rule: "*.apex.test" });
  });

  it("ports: single, list and range, per rule, with the near miss named in the reason", () => {
    const policy = createAllowlist([
      { host: "db.internal", ports: [5432, "6379-6380"] },
      { host: "10.0.0.0/8", ports: 443 },
    ]);
    expect(policy.check("db.internal", 5432).allowed).toBe(true);
    expect(policy.check("db.internal", 6380).allowed).toBe(true);
    expect(policy.check("db.internal", 6381)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("port 6381 is not allowed for db.internal"),
    });
    expect(policy.check("10.1.2.3", 443).allowed).toBe(true);
    expect(policy.check("10.1.2.3", 80).allowed).toBe(false);
  });

  it("names match names only: a CIDR rule never admits a name", () => {
    const policy = createAllowlist(["127.0.0.0/8"]);
    expect(policy.check("localhost", 80)).toMatchObject({ allowed: false, reason: "no allow entry matches localhost" });
    expect(policy.check("0x7f.1", 80)).toMatchObject({ allowed: true, host: "127.0.0.1" });
  });

  it("an IPv4-mapped CIDR rule covers the IPv4 addresses it maps", () => {
    const policy = createAllowlist(["::ffff:10.0.0.0/104"]);
    expect(policy.check("10.9.9.9", 1).allowed).toBe(true);
    expect(policy.check("[::ffff:10.9.9.9]", 1).allowed).toBe(true);
    expect(policy.check("11.0.0.1", 1).allowed).toBe(false);
  });

  it("publicOnly: allow entries are exceptions, publicOnly decides everything else", () => {
    const policy = createDestinationPolicy({
      publicOnly: true,
      allow: [{ host: "10.1.0.0/16", ports: 5432 }, "cache.internal", "*.corp.test"],
      publicPorts: [443],
    });
    expect(policy.check("10.1.2.3", 5432)).toMatchObject({ allowed: true, rule: "10.1.0.0/16, port 5432" });
    expect(policy.check("10.1.2.3", 22)).toMatchObject({ allowed: false, reason: expect.stringContaining("private") });
    expect(policy.check("10.2.0.1", 5432).allowed).toBe(false);
    expect(policy.check("8.8.8.8", 443)).toMatchObject({ allowed: true, rule: "publicOnly" });
    expect(policy.check("8.8.8.8", 80)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("public ports"),
    });
    // An exact name is trusted as it stands; any other name must be resolved and checked.
    expect(policy.check("cache.internal", 6379)).toMatchObject({
      allowed: true,
      rule: "cache.internal",
      resolve: false,
    });
    expect(policy.check("x.corp.test", 443)).toMatchObject({ allowed: true, rule: "*.corp.test", resolve: true });
    expect(policy.check("x.other.test", 443)).toMatchObject({ allowed: true, rule: "publicOnly", resolve: true });
    expect(policy.check("localhost", 443).allowed).toBe(false);
    expect(policy.check("a.b.localhost", 443).allowed).toBe(false);
  });

  it("checkResolved: every address must pass, and the reason names the one that did not", () => {
    const policy = createDestinationPolicy({ publicOnly: true, allow: ["10.9.0.0/16"] });
    expect(policy.checkResolved("a.test", 443, ["8.8.8.8", "2606:4700::1111"])).toMatchObject({
      allowed: true,
      host: "a.test",
      rule: "publicOnly",
    });
    expect(policy.checkResolved("a.test", 443, ["10.9.1.1"])).toMatchObject({ allowed: true, rule: "10.9.0.0/16" });
    expect(policy.checkResolved("a.test", 443, ["8.8.8.8", "169.254.169.254"])).toMatchObject({
      allowed: false,
      reason: "a.test resolves to 169.254.169.254, which is in 169.254.0.0/16 (link-local, cloud metadata)",
    });
    expect(policy.checkResolved("a.test", 443, [])).toMatchObject({
      allowed: false,
      reason: "a.test resolved to no address",
    });
    expect(policy.checkResolved("a.test", 443, ["not-an-ip"]).allowed).toBe(false);
  });

  it("several entries for one host: any that matches host and port admits", () => {
    const policy = createAllowlist([
      { host: "db.example.com", ports: 5432 },
      { host: "db.example.com", ports: 6379 },
      { host: "*.example.com", ports: 80 },
      { host: "*.example.com", ports: 443 },
    ]);
    expect(policy.check("db.example.com", 6379).allowed).toBe(true);
    expect(policy.check("www.example.com", 443).allowed).toBe(true);
    expect(policy.check("db.example.com", 22).allowed).toBe(false);
  });

  it("publicOnly: a wildcard entry admits its ports, and the name's addresses are still checked", () => {
    const policy = createDestinationPolicy({
      publicOnly: true,
      publicPorts: 443,
      allow: [{ host: "*.svc.example", ports: 5432 }],
    });
    expect(policy.check("db.svc.example", 5432)).toMatchObject({
      allowed: true,
      rule: "*.svc.example, port 5432",
      resolve: true,
    });
    expect(policy.checkResolved("db.svc.example", 5432, ["8.8.8.8"])).toMatchObject({
      allowed: true,
      rule: "*.svc.example, port 5432",
    });
    expect(policy.checkResolved("db.svc.example", 5432, ["10.0.0.1"])).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("private"),
    });
    expect(policy.check("other.example", 5432).allowed).toBe(false);
  });

  it("publicOnly: a name on a port only a CIDR entry allows is decided by what it resolves to", () => {
    const policy = createDestinationPolicy({
      publicOnly: true,
      publicPorts: 443,
      allow: [{ host: "10.0.0.0/8", ports: 5432 }],
    });
    expect(policy.check("db.test", 5432)).toMatchObject({ allowed: true, resolve: true });
    expect(policy.checkResolved("db.test", 5432, ["10.1.2.3"])).toMatchObject({
      allowed: true,
      rule: "10.0.0.0/8, port 5432",
    });
    expect(policy.checkResolved("db.test", 5432, ["8.8.8.8"])).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("public ports"),
    });
  });

  it("Azure's WireServer is denied as cloud metadata although its address is public", () => {
    expect(createDestinationPolicy({ publicOnly: true }).check("168.63.129.16", 80)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("cloud metadata"),
    });
  });

  it("a hostile object (revoked Proxy) is denied, not thrown", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const policy = createDestinationPolicy({ publicOnly: true });
    expect(policy.check(proxy, 80).allowed).toBe(false);
    expect(policy.check("8.8.8.8", proxy).allowed).toBe(false);
    expect(policy.checkResolved("a.test", 443, [proxy as never]).allowed).toBe(false);
  });

  it.each([
    [{ allow: [{ host: "db.example.com", port: 5432 }] }, /unknown option "port"/],
    [{ allowlist: ["a.test"] }, /unknown option "allowlist"/],
    [{ publiconly: true }, /unknown option "publiconly"/],
    [{ allow: [{ host: "db.example.com", apex: true }] }, /apex only applies/],
    [{ allow: ["fe80::1%eth0"] }, /zone cannot be matched/],
    [{ allow: ["*"] }, /wildcard|hostname after/],
    [{ allow: ["a.*.com"] }, /wildcard is only allowed as a whole first label/],
    [{ allow: ["10.0.0.1/8"] }, /host bits set; did you mean 10.0.0.0\/8/],
    [{ allow: ["10.0.0.0/33"] }, /invalid prefix length/],
    [{ allow: ["10.0.0.0/"] }, /invalid prefix length/],
    [{ allow: ["example.com/8"] }, /not a CIDR range/],
    [{ allow: [{ host: "a.test", ports: [] }] }, /port list is empty/],
    [{ allow: [{ host: "a.test", ports: 0 }] }, /not a port/],
    [{ allow: [{ host: "a.test", ports: "90-80" }] }, /runs backwards/],
    [{ allow: [{ host: "a.test", ports: "http" }] }, /not a port/],
    [{ allow: [{ host: "a.test", apex: "yes" }] }, /apex must be a boolean/],
    [{ allow: [42] }, /a rule is a host string/],
    [{ allow: ["user@host"] }, /character no hostname can hold/],
    [{ allow: "example.com" }, /allow must be an array/],
    [{ publicOnly: "yes" }, /publicOnly must be a boolean/],
    [{ publicPorts: [70000] }, /not a port/],
  ])("a bad configuration %j throws a TypeError naming the problem", (options, message) => {
    expect(() => createDestinationPolicy(options as never)).toThrow(TypeError);
    expect(() => createDestinationPolicy(options as never)).toThrow(message);
  });
});

/** A fake connect that records every call and hands out sockets that open at once. */
function recordingConnect(): Connect & { calls: unknown[] } {
  const calls: unknown[] = [];
  const fake = ((address: unknown) => {
    calls.push(address);
    return {
      opened: Promise.resolve({ remoteAddress: "x" }),
      closed: new Promise<void>(() => {}),
      close: () => Promise.resolve(),
    } as unknown as SocketLike;
  }) as Connect & { calls: unknown[] };
  fake.calls = calls;
  return fake;
}

describe("guardConnect", () => {
  const policy = createDestinationPolicy({ publicOnly: true, allow: ["cache.internal"] });

  it("denies asynchronously, without calling the inner connect, on every promise and stream", async () => {
    const inner = recordingConnect();
    const socket = guardConnect(inner, policy)("169.254.169.254:80");
    await expect(socket.opened).rejects.toMatchObject({
      code: "EDESTINATION_DENIED",
      address: "169.254.169.254:80",
      reason: expect.stringContaining("link-local"),
    });
    await expect(socket.closed).rejects.toMatchObject({ code: "EDESTINATION_DENIED" });
    await expect(socket.readable.getReader().read()).rejects.toMatchObject({ code: "EDESTINATION_DENIED" });
    await expect(socket.writable.getWriter().write(new Uint8Array(1))).rejects.toMatchObject({
      code: "EDESTINATION_DENIED",
    });
    await expect(socket.close()).resolves.toBeUndefined();
    expect(() => socket.startTls()).toThrow(TypeError);
    expect(inner.calls).toEqual([]);
  });

  it("throws connect's synchronous TypeError for a malformed address", () => {
    const inner = recordingConnect();
    expect(() => guardConnect(inner, policy)("no-port")).toThrow(/missing port/);
    expect(() => guardConnect(inner, policy)({ hostname: "a b", port: 1 })).toThrow(TypeError);
    expect(inner.calls).toEqual([]);
  });

  it("passes the canonical host on, so the inner connect cannot read the address another way", () => {
    const inner = recordingConnect();
    const guarded = guardConnect(inner, createAllowlist(["127.0.0.0/8", "::1", "api.example.com"]));
    guarded("2130706433:80");
    guarded("[0:0:0:0:0:0:0:1]:80");
    guarded({ hostname: "API.Example.com.", port: 443 });
    expect(inner.calls).toEqual([
      { hostname: "127.0.0.1", port: 80 },
      { hostname: "[::1]", port: 80 },
      { hostname: "api.example.com", port: 443 },
    ]);
  });

  it("names that must be resolved: handed to the connect's capability, else denied unless unresolvedNames is 'allow'", async () => {
    const plain = recordingConnect();
    const denied = guardConnect(plain, policy)("example.com:443");
    await expect(denied.opened).rejects.toMatchObject({
      code: "EDESTINATION_DENIED",
      reason: expect.stringContaining("cannot resolve names"),
    });
    expect(plain.calls).toEqual([]);

    guardConnect(plain, policy, { unresolvedNames: "allow" })("example.com:443");
    expect(plain.calls).toEqual([{ hostname: "example.com", port: 443 }]);

    const capable = recordingConnect();
    const resolving = recordingConnect();
    const hook = vi.fn(() => resolving as Connect);
    Object.assign(capable, { [withDestinationPolicy]: hook });
    guardConnect(capable, policy)("example.com:443");
    guardConnect(capable, policy)("cache.internal:6379"); // exact entry: no resolution needed
    expect(hook).toHaveBeenCalledWith(policy);
    expect(resolving.calls).toEqual([{ hostname: "example.com", port: 443 }]);
    expect(capable.calls).toEqual([{ hostname: "cache.internal", port: 6379 }]);
  });

  it("retry does not retry a denial, and fallback stops at one", async () => {
    const inner = recordingConnect();
    const guarded = guardConnect(inner, createAllowlist(["127.0.0.1"]));
    const onRetry = vi.fn();
    await expect(
      connectWithRetry(guarded, "10.0.0.1:80", undefined, { onRetry, baseDelayMs: 1 }),
    ).rejects.toMatchObject({ code: "EDESTINATION_DENIED" });
    expect(onRetry).not.toHaveBeenCalled();
    await expect(connectWithFallback(guarded, ["10.0.0.1:80", "127.0.0.1:80"])).rejects.toMatchObject({
      code: "EDESTINATION_DENIED",
    });
    expect(inner.calls).toEqual([]);
  });

  it("rejects a bad policy or option up front", () => {
    const inner = recordingConnect();
    expect(() => guardConnect(inner, {} as DestinationPolicy)).toThrow(/expects a DestinationPolicy/);
    expect(() => guardConnect(inner, policy, { unresolvedNames: "maybe" as never })).toThrow(/unresolvedNames/);
    expect(() => guardConnect(undefined as never, policy)).toThrow(/connect function/);
  });
});
