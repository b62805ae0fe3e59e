import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ReplyError } from "../src/errors.js";
import {
  builtinSpec,
  crossSlot,
  keysOf,
  KEYLESS,
  refusedCommand,
  slotOf,
  specFromCommandInfo,
} from "../src/redis/cluster/keys.js";
import { crc16, keySlot } from "../src/redis/cluster/slot.js";
import { parseShards, parseSlots } from "../src/redis/cluster/topology.js";
import type { RespValue } from "../src/redis/resp/decoder.js";

const utf8 = new TextEncoder();
const fromHex = (hex: string) => new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
const data = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./data/${name}`, import.meta.url), "utf8")) as T;

describe("cluster key slots", () => {
  it("CRC16 is XMODEM: the cluster spec's test vector", () => {
    // Redis Cluster specification, appendix A: the output for "123456789" is 0x31C3.
    expect(crc16(utf8.encode("123456789"))).toBe(0x31c3);
    expect(keySlot("123456789")).toBe(0x31c3 & 16383);
  });

  it("every key of redis-cli CLUSTER KEYSLOT's answers (text, hash tags, UTF-8, raw bytes) gets the same slot", () => {
    const { keys } = data<{ keys: Array<[string | { hex: string }, number]> }>("cluster-keyslot.json");
    expect(keys.length).toBeGreaterThan(1800);
    let hashTags = 0;
    for (const [key, slot] of keys) {
      if (typeof key === "string") {
        expect(keySlot(key), JSON.stringify(key)).toBe(slot);
        expect(keySlot(utf8.encode(key)), JSON.stringify(key)).toBe(slot);
        if (/\{.+?\}/.test(key)) hashTags++;
      } else expect(keySlot(fromHex(key.hex)), key.hex).toBe(slot);
    }
    expect(hashTags).toBeGreaterThan(100);
  });

  it("hash tag edge cases, by the rule: the first { and the first } after it, with a byte between", () => {
    const same = (a: string, b: string) => expect(keySlot(a), `${a} vs ${b}`).toBe(keySlot(b));
    same("{user1000}.following", "user1000");
    same("{a}{b}", "a");
    same("foo{bar}{zap}", "bar");
    same("foo{{bar}}zap", "{bar");
    same("}{a}", "a");
    expect(keySlot("{}")).toBe(crc16(utf8.encode("{}")) & 16383); // empty tag: the whole key
    expect(keySlot("{")).toBe(crc16(utf8.encode("{")) & 16383);
    expect(keySlot("}{")).toBe(crc16(utf8.encode("}{")) & 16383);
    expect(keySlot("foo{}{bar}")).toBe(crc16(utf8.encode("foo{}{bar}")) & 16383);
  });

  it("a string, its UTF-8 bytes and a number's decimal form hash alike (lone surrogates as TextEncoder sends them)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
        expect(keySlot(s)).toBe(keySlot(utf8.encode(s)));
      }),
      { numRuns: 2000 },
    );
    expect(keySlot(123)).toBe(keySlot("123"));
    expect(keySlot(2n ** 64n)).toBe(keySlot("18446744073709551616"));
    expect(keySlot(1.5)).toBe(keySlot("1.5"));
  });
});

describe("cluster key extraction", () => {
  type Entry = { args: string[]; keys: string[] | { error: string }; info: RespValue };
  const { entries } = data<{ entries: Entry[] }>("command-keys.json");
  // SPUBLISH's channel is not a key to COMMAND GETKEYS, yet it routes like one; WATCH is refused on a cluster.
  const checked = entries.filter((e) => Array.isArray(e.keys) && e.args[0] !== "WATCH");

  it("the built-in table finds the keys redis-server's COMMAND GETKEYS finds", () => {
    let tableHits = 0;
    for (const { args, keys } of checked) {
      const spec = builtinSpec(args);
      if (spec === undefined) continue;
      tableHits++;
      expect(keysOf(spec, args), args.join(" ")).toEqual(keys);
    }
    expect(tableHits).toBeGreaterThan(55);
  });

  it("the key-spec walker, over each command's COMMAND INFO, finds the same keys", () => {
    const askServer: string[] = [];
    for (const { args, keys, info } of checked) {
      const spec = specFromCommandInfo(info);
      // A spec Redis marks as not walkable (SORT's BY and GET patterns, MIGRATE's KEYS): the router asks COMMAND GETKEYS.
      if (spec.askServer) askServer.push(args[0]!);
      else expect(keysOf(spec, args), args.join(" ")).toEqual(keys);
    }
    expect([...new Set(askServer)].sort()).toEqual(["MIGRATE", "SORT", "SORT_RO"]);
    // SPUBLISH routes by its channel: the table says so.
    expect(keysOf(builtinSpec(["SPUBLISH", "ch", "m"])!, ["SPUBLISH", "ch", "m"])).toEqual(["ch"]);
  });

  it("read-only flags agree with COMMAND INFO's for the table's commands", () => {
    for (const { args, info } of checked) {
      const spec = builtinSpec(args);
      if (spec === undefined || !Array.isArray(info)) continue;
      const flags = (info[2] as string[]).map((f) => f.toLowerCase());
      // Container commands (OBJECT, XINFO, MEMORY) carry the flags on their subcommands.
      if ((info[9] as unknown[]).length > 0) continue;
      expect(spec.readonly, args[0]).toBe(flags.includes("readonly"));
    }
  });

  it("keys in different slots are refused with the slots named; one slot, or a hash tag, passes", () => {
    const spec = builtinSpec(["MGET"])!;
    const error = (() => {
      try {
        slotOf(spec, ["MGET", "a", "b"]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ReplyError);
    expect((error as ReplyError).prefix).toBe("CROSSSLOT");
    expect((error as ReplyError).message).toContain(`slot ${keySlot("a")}`);
    expect((error as ReplyError).message).toContain(`slot ${keySlot("b")}`);
    expect(slotOf(spec, ["MGET", "{u}a", "{u}b"])).toBe(keySlot("u"));
    expect(slotOf(builtinSpec(["PING"])!, ["PING"])).toBe(KEYLESS);
    expect(crossSlot(["x", "y"], "DEL").command).toBe("DEL");
    expect(refusedCommand("MULTI")).toMatch(/multi\(/);
  });
});

describe("cluster topology replies", () => {
  const asked = { hostname: "10.0.0.9", port: 7000 };

  it("CLUSTER SHARDS, RESP3 maps and RESP2 lists alike: endpoints, an unknown endpoint skipped, empty shards dropped", () => {
    const node = (fields: Record<string, RespValue>) => new Map<RespValue, RespValue>(Object.entries(fields));
    const resp3: RespValue = [
      new Map<RespValue, RespValue>([
        ["slots", [0, 5460, 10000, 10001]],
        [
          "nodes",
          [
            node({ id: "m1", port: 7000, ip: "10.0.0.1", endpoint: "10.0.0.1", role: "master", health: "online" }),
            node({ id: "r1", port: 7003, ip: "10.0.0.4", endpoint: "", role: "replica", health: "loading" }),
            node({ id: "r2", port: 7006, ip: "10.0.0.5", endpoint: "?", role: "replica", health: "online" }),
            node({ id: "r3", port: 7007, ip: "::1", endpoint: "::1", role: "replica", health: "failed" }),
          ],
        ],
      ]),
      new Map<RespValue, RespValue>([
        ["slots", []],
        [
          "nodes",
          [node({ id: "m9", port: 7009, ip: "10.0.0.9", endpoint: "10.0.0.9", role: "master", health: "failed" })],
        ],
      ]),
    ];
    const shards = parseShards(resp3, asked, false);
    expect(shards).toEqual([
      {
        slots: [
          [0, 5460],
          [10000, 10001],
        ],
        master: { hostname: "10.0.0.1", port: 7000, id: "m1", healthy: true },
        replicas: [
          { hostname: "10.0.0.9", port: 7003, id: "r1", healthy: true },
          { hostname: "[::1]", port: 7007, id: "r3", healthy: false },
        ],
      },
    ]);
    const flat = (fields: Record<string, RespValue>) => Object.entries(fields).flat() as RespValue[];
    const resp2: RespValue = [
      [
        "slots",
        [5461, 16383],
        "nodes",
        [flat({ id: "m2", port: 7001, "tls-port": 8001, endpoint: "h2", role: "master", health: "online" })],
      ],
    ];
    expect(parseShards(resp2, asked, true)[0]!.master).toEqual({ hostname: "h2", port: 8001, id: "m2", healthy: true });
  });

  it("CLUSTER SLOTS: ranges grouped by master, replicas after it", () => {
    const reply: RespValue = [
      [0, 99, ["10.0.0.1", 7000, "m1"], ["10.0.0.4", 7003, "r1"]],
      [100, 16383, ["", 7001, "m2"]],
      [200, 300, ["10.0.0.1", 7000, "m1"]],
    ];
    const shards = parseSlots(reply, asked);
    expect(shards.map((s) => [s.master.hostname, s.master.port, s.slots, s.replicas.length])).toEqual([
      [
        "10.0.0.1",
        7000,
        [
          [0, 99],
          [200, 300],
        ],
        1,
      ],
      ["10.0.0.9", 7001, [[100, 16383]], 0],
    ]);
  });
});
