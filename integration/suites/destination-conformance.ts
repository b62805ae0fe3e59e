/**
 * The destination policy, run in workerd and on Node, Bun and Deno: the
 * canonicalization table (so every runtime's URL/IDNA parsers agree with it) and
 * a guarded connect against real listening servers that count their connections.
 */
import { describe, expect, it } from "vitest";
import {
  connectWithRetry,
  createAllowlist,
  createDestinationPolicy,
  guardConnect,
  type Connect,
  type DestinationPolicy,
  type SocketLike,
} from "@sockkit/core";
import { controlCommand } from "../harness/shared/control-client.js";
import { rejection } from "../harness/shared/promises.js";
import type { SocketTestEnv } from "../harness/node/servers.js";
import type { RuntimeName } from "./runtimes.js";

export interface DestinationOptions {
  runtime: RuntimeName;
  /** The runtime's connect. */
  connect: Connect;
  env: SocketTestEnv;
  /**
   * A connect that resolves names itself (adapter-node's, on any runtime): one with `resolve` as its
   * DNS (and `policy` if given), to test resolve, check every address, then dial the checked one.
   */
  withResolver?: (resolve: (hostname: string) => Promise<string[]>, policy?: DestinationPolicy) => Connect;
  /**
   * adapter-node's `createConnect({ edgeRules: true })`: names go through the adapter's own resolver
   * (the runtime's `dns.lookup`) before the edge's address rules apply.
   */
  edgeRules?: Connect;
}

// Loopback, in the spellings public SSRF payload lists use against URL filters.
const LOOPBACK_SPELLINGS = [
  "127.0.0.1",
  "127.1",
  "127.0.1",
  "127.000.000.001",
  "0177.0.0.1",
  "0177.0000.0000.0001",
  "0x7f.0.0.1",
  "0x7F.0x0.0x0.0x1",
  "0x7f.1",
  "2130706433",
  "0x7f000001",
  "017700000001",
  "127.0.0.1.",
  "127.255.255.254",
  "①②⑦.⓪.⓪.①",
  "１２７．０．０．１",
  "127。0。0。1",
  "::ffff:127.0.0.1",
  "[::ffff:127.0.0.1]",
  "[::ffff:7f00:1]",
  "[0:0:0:0:0:ffff:127.0.0.1]",
  "[0000:0000:0000:0000:0000:ffff:7f00:0001]",
  "::127.0.0.1",
  "[::7f00:1]",
] as const;

const METADATA_SPELLINGS = [
  "169.254.169.254",
  "2852039166",
  "0xa9fea9fe",
  "0251.0376.0251.0376",
  "0xa9.0xfe.0xa9.0xfe",
  "169.254.43518",
  "[::ffff:169.254.169.254]",
  "[::ffff:a9fe:a9fe]",
  "169.254.169.254.",
] as const;

/** [input, canonical host, why it is denied under publicOnly (a regex), or "allowed"] */
const PUBLIC_ONLY_TABLE: ReadonlyArray<readonly [string, string, RegExp | "allowed"]> = [
  ...LOOPBACK_SPELLINGS.map(
    (s) => [s, s === "127.255.255.254" ? s : "127.0.0.1", /127\.0\.0\.0\/8 \(loopback\)/] as const,
  ),
  ...METADATA_SPELLINGS.map(
    (s) => [s, "169.254.169.254", /169\.254\.0\.0\/16 \(link-local, cloud metadata\)/] as const,
  ),
  ["0", "0.0.0.0", /this network/],
  ["0.0.0.0", "0.0.0.0", /this network/],
  ["0x0", "0.0.0.0", /this network/],
  ["10.0.0.1", "10.0.0.1", /private/],
  ["172.16.0.1", "172.16.0.1", /private/],
  ["172.31.255.255", "172.31.255.255", /private/],
  ["192.168.1.1", "192.168.1.1", /private/],
  ["100.64.0.1", "100.64.0.1", /carrier-grade NAT/],
  ["100.100.100.200", "100.100.100.200", /carrier-grade NAT/], // Alibaba Cloud metadata
  ["192.0.0.192", "192.0.0.192", /IETF protocol assignments/], // Oracle Cloud metadata
  ["192.0.2.1", "192.0.2.1", /documentation/],
  ["198.18.0.1", "198.18.0.1", /benchmarking/],
  ["224.0.0.1", "224.0.0.1", /multicast/],
  ["255.255.255.255", "255.255.255.255", /reserved/],
  ["::1", "::1", /loopback/],
  ["[::1]", "::1", /loopback/],
  ["[0:0:0:0:0:0:0:1]", "::1", /loopback/],
  ["[::1%lo]", "::1", /loopback/],
  ["[::]", "::", /unspecified/],
  ["fe80::1%eth0", "fe80::1", /link-local/],
  ["[fd00:ec2::254]", "fd00:ec2::254", /unique local/], // AWS metadata over IPv6
  ["fc00::1", "fc00::1", /unique local/],
  ["ff02::1", "ff02::1", /multicast/],
  ["[64:ff9b::127.0.0.1]", "64:ff9b::7f00:1", /NAT64 address of 127\.0\.0\.1, which is in 127\.0\.0\.0\/8/],
  ["64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", /NAT64 address of 169\.254\.169\.254/],
  ["64:ff9b:1::1", "64:ff9b:1::1", /local-use NAT64/],
  ["2002:7f00:1::", "2002:7f00:1::", /6to4 address of 127\.0\.0\.1/],
  ["2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1", /6to4 address of 169\.254\.169\.254/],
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2", /Teredo/],
  ["2001:db8::1", "2001:db8::1", /documentation/],
  ["100::1", "100::1", /discard/],
  ["localhost", "localhost", /loopback name/],
  ["LOCALHOST.", "localhost", /loopback name/],
  ["ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost", /loopback name/],
  ["api.localhost", "api.localhost", /loopback name/],
  ["8.8.8.8", "8.8.8.8", "allowed"],
  ["134744072", "8.8.8.8", "allowed"],
  ["[::ffff:8.8.8.8]", "8.8.8.8", "allowed"],
  ["64:ff9b::8.8.8.8", "64:ff9b::808:808", "allowed"],
  ["2002:808:808::1", "2002:808:808::1", "allowed"],
  ["[2606:4700:4700::1111]", "2606:4700:4700::1111", "allowed"],
  ["Example.COM.", "example.com", "allowed"],
  ["bücher.de", "xn--bcher-kva.de", "allowed"],
];

/** [input, what the reason must say]: never a host, whatever the policy. */
const MALFORMED_TABLE: ReadonlyArray<readonly [unknown, RegExp]> = [
  ["", /empty/],
  [" 127.0.0.1", /character no hostname can hold/],
  ["127.0.0.1\t", /character no hostname can hold/],
  ["127.0.0.1\n", /character no hostname can hold/],
  ["127.0.0.1\u0000", /character no hostname can hold/],
  ["exa\u0000mple.com", /character no hostname can hold/],
  ["user@127.0.0.1", /character no hostname can hold/],
  ["allowed.example@127.0.0.1", /character no hostname can hold/],
  ["127.0.0.1#.allowed.example", /character no hostname can hold/],
  ["127.0.0.1/x", /character no hostname can hold/],
  ["127.0.0.1\\@x", /character no hostname can hold/],
  ["%31%32%37.0.0.1", /character no hostname can hold/],
  ["127.0.0.1%00", /character no hostname can hold/],
  ["a b.example", /character no hostname can hold/],
  ["a\u3000b.example", /character no hostname can hold/],
  ["*.example.com", /character no hostname can hold/],
  ["example.com:80", /not a valid IPv6 address/],
  ["[::1", /does not close/],
  ["[::ffff:0177.0.0.1]", /not a valid IPv6 address/],
  ["[1::2::3]", /not a valid IPv6 address/],
  ["[::1%]", /invalid IPv6 zone/],
  ["256.0.0.1", /not a valid hostname or IPv4 address/],
  ["0x100000000", /not a valid hostname or IPv4 address/],
  ["1.2.3.4.5", /not a valid hostname or IPv4 address/],
  ["08.0.0.1", /not a valid hostname or IPv4 address/],
  ["a..b", /not a valid hostname/],
  [".example.com", /not a valid hostname/],
  ["example.com..", /not a valid hostname/],
  ["exa!mple.com", /not a valid hostname/],
  [`${"a".repeat(64)}.com`, /label longer than 63/],
  [`${"a.".repeat(127)}aa`, /not a valid hostname/],
  ["a".repeat(10_000), /10000 characters long/],
  [2130706433, /must be a string, got number/],
  [null, /must be a string, got null/],
  [undefined, /must be a string, got undefined/],
  [{ toString: () => "127.0.0.1" }, /must be a string, got object/],
  [["127.0.0.1"], /must be a string, got an array/],
];

export function destinationConformance({ runtime, connect, env, withResolver, edgeRules }: DestinationOptions): void {
  const publicOnly = createDestinationPolicy({ publicOnly: true });
  const accepted = async (server: string) => (await controlCommand(connect, env.control)).accepted[server] ?? 0;
  const echoOnce = async (socket: SocketLike, text: string) => {
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(text));
    const { value } = await socket.readable.getReader().read();
    return new TextDecoder().decode(value);
  };
  /** Opens through `guarded`, expects a denial, and proves the server saw no connection. */
  const expectDenied = async (guarded: Connect, address: string, server: string, reason: RegExp) => {
    const before = await accepted(server);
    const socket = guarded(address);
    const error = await rejection(socket.opened);
    expect(error).toMatchObject({ code: "EDESTINATION_DENIED", reason: expect.stringMatching(reason) });
    await expect(socket.closed).rejects.toMatchObject({ code: "EDESTINATION_DENIED" });
    await socket.close();
    expect(await accepted(server)).toBe(before);
  };

  describe(`destination policy (${runtime})`, () => {
    it.each(PUBLIC_ONLY_TABLE)("publicOnly: %j is %j, %s", (input, host, expected) => {
      const decision = publicOnly.check(input, 443);
      expect(decision.host).toBe(host);
      if (expected === "allowed") expect(decision).toMatchObject({ allowed: true, rule: "publicOnly" });
      else expect(decision).toMatchObject({ allowed: false, reason: expect.stringMatching(expected) });
    });

    it.each(MALFORMED_TABLE)("malformed: %j is denied (%s), never thrown", (input, reason) => {
      for (const policy of [publicOnly, createAllowlist(["127.0.0.0/8", "*.example"])]) {
        expect(policy.check(input, 443)).toMatchObject({ allowed: false, reason: expect.stringMatching(reason) });
      }
    });

    it("a bad port is denied with the reason", () => {
      for (const port of [0, -1, 65536, 80.5, Number.NaN, "80", null]) {
        expect(publicOnly.check("8.8.8.8", port)).toMatchObject({
          allowed: false,
          reason: expect.stringContaining("port must be an integer"),
        });
      }
    });

    it("an explicit CIDR entry admits a destination inside a range publicOnly denies, on its ports only", () => {
      const policy = createDestinationPolicy({ publicOnly: true, allow: [{ host: "127.0.0.0/8", ports: env.echo }] });
      expect(policy.check("0x7f.1", env.echo)).toMatchObject({
        allowed: true,
        host: "127.0.0.1",
        rule: `127.0.0.0/8, port ${env.echo}`,
      });
      expect(policy.check("127.0.0.1", env.echo6)).toMatchObject({
        allowed: false,
        reason: expect.stringMatching(/loopback/),
      });
    });
  });

  describe(`guardConnect over real sockets (${runtime})`, () => {
    it.each([
      ["127.0.0.1", /loopback/],
      ["2130706433", /loopback/],
      ["0x7f.1", /loopback/],
      ["0177.0.0.1", /loopback/],
      ["127.1", /loopback/],
      ["[::ffff:127.0.0.1]", /loopback/],
      ["localhost", /loopback name/],
    ])("publicOnly denies %s before any byte leaves: the server counts zero connections", async (host, reason) => {
      await expectDenied(guardConnect(connect, publicOnly), `${host}:${env.denied}`, "denied", reason);
    });

    it("an allowlist denies a port it does not list, and an IPv6 loopback it does not name", async () => {
      const policy = createAllowlist([{ host: "127.0.0.1", ports: env.halfClose }]);
      await expectDenied(guardConnect(connect, policy), `127.0.0.1:${env.denied}`, "denied", /port/);
      await expectDenied(
        guardConnect(connect, policy),
        `[::1]:${env.denied6}`,
        "denied6",
        /no allow entry matches ::1/,
      );
    });

    it("an allowed destination connects, through the canonical address, in any spelling", async () => {
      const guarded = guardConnect(connect, createAllowlist([{ host: "127.0.0.0/8", ports: env.echo }, "::1"]));
      for (const address of [`0x7f.1:${env.echo}`, `2130706433:${env.echo}`, `[0:0:0:0:0:0:0:1]:${env.echo6}`]) {
        const socket = guarded(address);
        try {
          await socket.opened;
          expect(await echoOnce(socket, address)).toBe(address);
        } finally {
          await socket.close();
        }
      }
    });

    it("connectWithRetry makes one attempt at a denied destination and no connection", async () => {
      const before = await accepted("denied");
      const retries: unknown[] = [];
      const error = await rejection(
        connectWithRetry(guardConnect(connect, publicOnly), `127.0.0.1:${env.denied}`, undefined, {
          baseDelayMs: 1,
          onRetry: (event) => retries.push(event),
        }),
      );
      expect(error).toMatchObject({ code: "EDESTINATION_DENIED" });
      expect(retries).toEqual([]);
      expect(await accepted("denied")).toBe(before);
    });

    it("a name publicOnly must resolve is denied when the connect cannot resolve names", async () => {
      // A plain wrapper drops the adapter's withDestinationPolicy capability (workerd's own connect never has it).
      const bare: Connect = (address, options) => connect(address, options);
      await expectDenied(
        guardConnect(bare, publicOnly),
        `sockkit.test:${env.denied}`,
        "denied",
        /cannot resolve names/,
      );
    });

    if (edgeRules) {
      it("the adapter's own resolver (the runtime's dns.lookup) resolves a name, and its loopback address is refused before any dial", async () => {
        await expectDenied(edgeRules, `localhost:${env.denied}`, "denied", /(127\.0\.0\.1|::1) is a loopback address/);
      });
    }

    if (withResolver) {
      it("a name that resolves to a denied address is refused after DNS, and nothing is dialled", async () => {
        const asked: string[] = [];
        const guarded = guardConnect(
          withResolver(async (name) => (asked.push(name), ["8.8.8.8", "127.0.0.1"])),
          publicOnly,
        );
        await expectDenied(
          guarded,
          `sockkit.test:${env.denied}`,
          "denied",
          /sockkit\.test resolves to 127\.0\.0\.1, which is in 127\.0\.0\.0\/8/,
        );
        expect(asked).toEqual(["sockkit.test"]);
      });

      it("the checked address is dialled (one lookup, so a rebind cannot follow), and TLS still verifies the name", async () => {
        const answers = [["127.0.0.1"], ["10.0.0.1"]];
        const asked: string[] = [];
        const connectVia = withResolver(async (name) => (asked.push(name), answers[asked.length - 1] ?? []));
        const policy = createDestinationPolicy({ publicOnly: true, allow: [{ host: "127.0.0.0/8", ports: env.tls }] });
        const socket = guardConnect(connectVia, policy)(`sockkit.test:${env.tls}`, { secureTransport: "on" });
        const token = `pinned ${Math.random()}`; // keys the server's record of this connection's SNI
        try {
          await socket.opened;
          expect(await echoOnce(socket, token)).toBe(token);
        } finally {
          await socket.close();
        }
        expect(asked).toEqual(["sockkit.test"]);
        expect((await controlCommand(connect, env.control)).sni[token]).toBe("sockkit.test");
      });

      it("every checked address is tried in turn, in its canonical form", async () => {
        // ::1 has no echo server on this port; 127.0.0.1 (given IPv4-mapped) does.
        const policy = createDestinationPolicy({ publicOnly: true, allow: ["127.0.0.0/8", "::1"] });
        const socket = guardConnect(
          withResolver(async () => ["::1", "::ffff:127.0.0.1"]),
          policy,
        )(`sockkit.test:${env.echo}`);
        try {
          await socket.opened;
          expect(await echoOnce(socket, "second")).toBe("second");
        } finally {
          await socket.close();
        }
      });

      it("guardConnect keeps the policy the adapter's connect already has", async () => {
        const inner = withResolver(async () => ["127.0.0.1"], createAllowlist(["ok.test"]));
        const outer = createDestinationPolicy({ publicOnly: true, allow: ["127.0.0.0/8"] });
        await expectDenied(
          guardConnect(inner, outer),
          `sockkit.test:${env.denied}`,
          "denied",
          /no allow entry matches sockkit\.test/,
        );
      });

      it("createConnect({ policy }) applies the same checks without guardConnect", async () => {
        await expectDenied(
          withResolver(async () => ["127.0.0.1"], publicOnly),
          `sockkit.test:${env.denied}`,
          "denied",
          /loopback/,
        );
        await expectDenied(
          withResolver(async () => ["8.8.8.8"], publicOnly),
          `0x7f.1:${env.denied}`,
          "denied",
          /loopback/,
        );
      });
    }
  });
}
