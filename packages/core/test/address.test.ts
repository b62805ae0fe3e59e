import { describe, expect, it } from "vitest";
import { parseSocketAddress } from "../src/address.js";

describe("parseSocketAddress (workerd's synchronous checks)", () => {
  it("parses host:port and [v6]:port strings, keeping the address as given for display", () => {
    expect(parseSocketAddress("example.com:443")).toEqual({
      hostname: "example.com",
      port: 443,
      display: "example.com:443",
    });
    expect(parseSocketAddress("[::1]:5432")).toEqual({ hostname: "::1", port: 5432, display: "[::1]:5432" });
  });

  it("parses the object form, stripping IPv6 brackets and truncating a fractional port as workerd does", () => {
    expect(parseSocketAddress({ hostname: "[::1]", port: 80 })).toEqual({
      hostname: "::1",
      port: 80,
      display: "[::1]:80",
    });
    expect(parseSocketAddress({ hostname: "h", port: 80.5 }).port).toBe(80);
  });

  it("marks an unbracketed IPv6 hostname as unreachable (workerd rejects opened)", () => {
    expect(parseSocketAddress({ hostname: "::1", port: 80 }).unreachable).toMatch(/brackets/);
  });

  it.each([
    ["127.0.0.1", /missing port/],
    ["[::1]", /missing port/],
    ["localhost:", /missing port/],
    ["::1:80", /could not be parsed/],
    ["a:b", /could not be parsed/],
    ["not a host:80", /unsupported characters/],
    ["", /empty string/],
    [`${"a".repeat(300)}:80`, /too long/],
    ["user@host:80", /unsupported characters/],
    ["host%20:80", /unsupported characters/],
  ])("throws a TypeError for %j", (address, message) => {
    expect(() => parseSocketAddress(address)).toThrow(TypeError);
    expect(() => parseSocketAddress(address)).toThrow(message);
  });

  it.each([70000, -1, Number.NaN, 65536])("throws a TypeError for port %d", (port) => {
    expect(() => parseSocketAddress({ hostname: "h", port })).toThrow(TypeError);
  });

  it("throws for a non-object, a missing hostname or a port that is not a number", () => {
    expect(() => parseSocketAddress(42 as never)).toThrow(TypeError);
    expect(() => parseSocketAddress({ port: 1 } as never)).toThrow(/missing hostname/);
    expect(() => parseSocketAddress({ hostname: "h", port: "80" } as never)).toThrow(TypeError);
  });
});
