import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplyError } from "../src/errors.js";
import { RespDecoder, type RespDecoderOptions, type RespValue } from "../src/redis/resp/decoder.js";
import { CommandBatch, encodeCommand, utf8Length } from "../src/redis/resp/encoder.js";

const enc = new TextEncoder();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Decodes `input` fed as the given pieces; returns replies and pushes in order. */
function decode(pieces: Uint8Array[], options: Partial<RespDecoderOptions> = {}) {
  const out: Array<{ reply?: RespValue; push?: RespValue[]; attributes?: Map<RespValue, RespValue> }> = [];
  const decoder = new RespDecoder({
    onReply: (reply) => out.push({ reply }),
    onPush: (push) => out.push({ push }),
    onAttributes: (attributes) => out.push({ attributes }),
    ...options,
  });
  for (const piece of pieces) decoder.feed(piece);
  return { out, idle: decoder.idle };
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    pieces.push(bytes.slice(last, p));
    last = p;
  }
  pieces.push(bytes.slice(last));
  return pieces;
}

// One reply of every type, as Redis sends it, with what it decodes to.
const CORPUS: Array<[string, string, unknown]> = [
  ["simple string", "+OK\r\n", "OK"],
  ["simple error", "-ERR unknown command 'x'\r\n", new ReplyError("ERR unknown command 'x'")],
  ["integer", ":-42\r\n", -42],
  ["integer past 2^53", ":9223372036854775807\r\n", 9223372036854775807n],
  ["integer of 16 digits under 2^53", ":1234567890123456\r\n", 1234567890123456],
  ["integer of 20 digits", ":-12345678901234567890\r\n", -12345678901234567890n],
  ["integer with a plus sign", ":+5\r\n", 5],
  ["negative zero is zero", ":-0\r\n", 0],
  ["blob string", "$5\r\nh\r\nlo\r\n", "h\r\nlo"],
  ["UTF-8 blob", `$${enc.encode("héllo ☃ 𝄞").length}\r\nhéllo ☃ 𝄞\r\n`, "héllo ☃ 𝄞"],
  ["empty blob", "$0\r\n\r\n", ""],
  ["RESP2 null blob", "$-1\r\n", null],
  ["RESP2 null array", "*-1\r\n", null],
  ["RESP3 null", "_\r\n", null],
  ["true", "#t\r\n", true],
  ["false", "#f\r\n", false],
  ["double", ",3.14\r\n", 3.14],
  ["double exponent", ",1.5e-3\r\n", 0.0015],
  ["inf", ",inf\r\n", Infinity],
  ["-inf", ",-inf\r\n", -Infinity],
  ["nan", ",nan\r\n", Number.NaN],
  // Redis before 7.2 printed doubles with libc: any of its NaN and infinity spellings may come (RESP3.md).
  ["NAN", ",NAN\r\n", Number.NaN],
  ["-nan", ",-nan\r\n", Number.NaN],
  ["NaN", ",NaN\r\n", Number.NaN],
  ["nan(…) with a payload", ",nan(0x7ff8000000000000)\r\n", Number.NaN],
  ["-nan(ind) (MSVC)", ",-nan(ind)\r\n", Number.NaN],
  ["nan()", ",nan()\r\n", Number.NaN],
  ["INF", ",INF\r\n", Infinity],
  ["-INF", ",-INF\r\n", -Infinity],
  ["infinity", ",infinity\r\n", Infinity],
  ["-Infinity", ",-Infinity\r\n", -Infinity],
  ["big number", "(3492890328409238509324850943850943825024385\r\n", 3492890328409238509324850943850943825024385n],
  ["blob error", "!21\r\nSYNTAX invalid syntax\r\n", new ReplyError("SYNTAX invalid syntax")],
  ["verbatim", "=15\r\ntxt:Some string\r\n", "Some string"],
  ["array", "*3\r\n:1\r\n$1\r\na\r\n*0\r\n", [1, "a", []]],
  ["nested", "*2\r\n*2\r\n+a\r\n+b\r\n*1\r\n_\r\n", [["a", "b"], [null]]],
  [
    "map",
    "%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n",
    new Map<RespValue, RespValue>([
      ["first", 1],
      ["second", [2]],
    ]),
  ],
  ["set", "~3\r\n+a\r\n+b\r\n+c\r\n", new Set(["a", "b", "c"])],
  ["error inside an array (EXEC)", "*2\r\n+OK\r\n-WRONGTYPE bad\r\n", ["OK", new ReplyError("WRONGTYPE bad")]],
];

describe("RESP decoder", () => {
  it.each(CORPUS)("%s: whole, and split at every byte boundary", (_name, wire, expected) => {
    const bytes = enc.encode(wire);
    expect(decode([bytes]).out).toEqual([{ reply: expected }]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { out, idle } = decode(splitAt(bytes, [cut]));
      expect(out).toEqual([{ reply: expected }]);
      expect(idle).toBe(true);
    }
    // ... and byte by byte.
    expect(decode([...bytes].map((b) => new Uint8Array([b]))).out).toEqual([{ reply: expected }]);
  });

  describe("long simple strings and errors: no length limit but maxBulkLength, however they are split", () => {
    // Lines past 64 KiB once failed when split (hiredis, node-redis and redis-parser take them).
    const wireOf = (long: string) => enc.encode(`+PONG\r\n+${long}\r\n-ERR ${long}\r\n*2\r\n+${long}\r\n:1\r\n+OK\r\n`);
    const expectedOf = (long: string) => [
      { reply: "PONG" },
      { reply: long },
      { reply: new ReplyError(`ERR ${long}`) },
      { reply: [long, 1] },
      { reply: "OK" },
    ];
    const decodeInPieces = (long: string, sizes: number[]) => {
      const wire = wireOf(long);
      for (const size of sizes) {
        const pieces: Uint8Array[] = [];
        for (let i = 0; i < wire.length; i += size) pieces.push(wire.subarray(i, i + size));
        const { out, idle } = decode(pieces);
        expect(out, `pieces of ${size} bytes`).toEqual(expectedOf(long));
        expect(idle).toBe(true);
      }
    };

    // 1.2 million pieces: about 1.5 s alone, several times that in a loaded full run (5 s timed out in CI).
    it("in pieces of every size from 1 to 300 bytes", { timeout: 30_000 }, () => {
      decodeInPieces(
        "a".repeat(66_000),
        Array.from({ length: 300 }, (_, i) => i + 1),
      );
    });

    it("in pieces of each size around 4 KiB, 16 KiB and 64 KiB, and larger than a line", () => {
      const long = "a".repeat(200_000);
      const sizes = [100_000, 200_001, 200_003, wireOf(long).length];
      for (const around of [4096, 16 * 1024, 65_536]) for (let d = -3; d <= 3; d++) sizes.push(around + d);
      decodeInPieces(long, sizes);
    });

    it("cut in two at every byte of a line that crosses the 4 KiB a line may wait in the buffer", () => {
      const line = "b".repeat(5_000);
      const bytes = enc.encode(`+${line}\r\n-${line}\r\n`);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const { out, idle } = decode(splitAt(bytes, [cut]));
        expect(out, `cut at ${cut}`).toEqual([{ reply: line }, { reply: new ReplyError(line) }]);
        expect(idle).toBe(true);
      }
    });

    it("a CR that ends one piece and an LF that starts the next; a CR without LF fails", () => {
      const line = "c".repeat(10_000);
      const head = enc.encode(`+${line}\r`);
      expect(decode([head.subarray(0, 6_000), head.subarray(6_000), enc.encode("\n")]).out).toEqual([{ reply: line }]);
      const decoder = new RespDecoder({ onReply: () => {} });
      decoder.feed(head.subarray(0, 6_000));
      decoder.feed(head.subarray(6_000));
      expect(() => decoder.feed(enc.encode("x"))).toThrow(expect.objectContaining({ code: "EPROTOCOL" }));
    });
  });

  it("the whole corpus back to back, in random pieces, decodes in order", () => {
    const wire = enc.encode(CORPUS.map(([, w]) => w).join(""));
    const expected = CORPUS.map(([, , value]) => ({ reply: value }));
    fc.assert(
      fc.property(fc.array(fc.nat(wire.length), { maxLength: 30 }), (cuts) => {
        expect(decode(splitAt(wire, cuts)).out).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ["1 MiB (assembled in one buffer sized from its header)", 1024 * 1024],
    ["9 MiB (kept as its pieces until complete)", 9 * 1024 * 1024],
  ])("a blob of %s, in 64 KiB pieces and in random pieces, comes out byte for byte", (_name, size) => {
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 7) % 251;
    const header = enc.encode(`$${size}\r\n`);
    const wire = new Uint8Array(header.length + size + 6);
    wire.set(header);
    wire.set(payload, header.length);
    wire.set(enc.encode("\r\n:1\r\n"), header.length + size);
    const pieces = (step: number) =>
      Array.from({ length: Math.ceil(wire.length / step) }, (_, i) => wire.subarray(i * step, (i + 1) * step));
    for (const chunks of [pieces(64 * 1024), splitAt(wire, [3, 5, 100_000, 777_777, size - 1, size + 6])]) {
      const { out, idle } = decode(chunks, { returnBuffers: () => true, maxBulkLength: 16 * 1024 * 1024 });
      expect(out).toHaveLength(2);
      const got = (out[0] as { reply: Uint8Array }).reply;
      expect(got.length).toBe(size);
      let wrong = 0;
      for (let i = 0; i < size; i++) if (got[i] !== payload[i]) wrong++;
      expect(wrong).toBe(0);
      expect(out[1]).toEqual({ reply: 1 });
      expect(idle).toBe(true);
    }
  });

  it("keeps a value's leading U+FEFF, short or long, simple or blob", () => {
    const long = `\uFEFF${"v".repeat(30)}`;
    const wire = enc.encode(`+\uFEFFok\r\n$5\r\n\uFEFFhi\r\n$${enc.encode(long).length}\r\n${long}\r\n`);
    expect(decode([wire]).out).toEqual([{ reply: "\uFEFFok" }, { reply: "\uFEFFhi" }, { reply: long }]);
  });

  it("decodes text with the decodeUtf8 it is given, and short ASCII without it", () => {
    const seen: string[] = [];
    const decodeUtf8 = (bytes: Uint8Array, start: number, end: number) => {
      const value = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes.subarray(start, end));
      seen.push(value);
      return value;
    };
    const long = "a value longer than sixteen bytes";
    const wire = enc.encode(`*3\r\n$5\r\nshort\r\n$${long.length}\r\n${long}\r\n-ERR ${long}\r\n`);
    expect(decode([wire], { decodeUtf8 }).out).toEqual([{ reply: ["short", long, new ReplyError(`ERR ${long}`)] }]);
    expect(seen).toEqual([long, `ERR ${long}`]);
  });

  it("push frames and attributes go to their own callbacks", () => {
    const wire = enc.encode(
      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:1\r\n",
    );
    const { out } = decode([wire]);
    expect(out).toEqual([
      { push: ["message", "ch", "hi"] },
      { attributes: new Map([["key-popularity", new Map([["a", 0.19]])]]) },
      { reply: [1] },
    ]);
  });

  it("blob strings come as bytes when returnBuffers says so, exactly as sent", () => {
    const payload = new Uint8Array([0, 255, 13, 10, 200, 1]);
    const wire = new Uint8Array([...enc.encode("$6\r\n"), ...payload, 13, 10]);
    for (let cut = 0; cut <= wire.length; cut++) {
      expect(decode(splitAt(wire, [cut]), { returnBuffers: () => true }).out).toEqual([{ reply: payload }]);
    }
  });

  it("random RESP3 values survive encoding and decoding at any split", () => {
    fc.assert(
      fc.property(respValue, fc.array(fc.nat(), { maxLength: 8 }), (value, cuts) => {
        const wire = enc.encode(serialize(value));
        expect(
          decode(
            splitAt(
              wire,
              cuts.map((c) => c % (wire.length + 1)),
            ),
          ).out,
        ).toEqual([{ reply: value }]);
      }),
      { numRuns: 500 },
    );
  });

  describe("limits and malformed input: a typed error, nothing allocated, the decoder stays failed", () => {
    it.each([
      ["an unknown type byte", "?x\r\n", "EPROTOCOL"],
      ["CR without LF", "+OK\rX", "EPROTOCOL"],
      ["a non-numeric length", "$abc\r\n", "EPROTOCOL"],
      ["a negative length", "$-2\r\n", "EPROTOCOL"],
      ["a blob without its CRLF", "$2\r\nabXY", "EPROTOCOL"],
      ["a bad boolean", "#x\r\n", "EPROTOCOL"],
      ["a bad double", ",1.2.3\r\n", "EPROTOCOL"],
      ["a NaN with more after it", ",nanx\r\n", "EPROTOCOL"],
      ["a NaN with an open parenthesis", ",nan(1\r\n", "EPROTOCOL"],
      ["half an infinity", ",infin\r\n", "EPROTOCOL"],
      ["a bad big number", "(12a\r\n", "EPROTOCOL"],
      ["null data", "_x\r\n", "EPROTOCOL"],
      ["a RESP3 null map", "%-1\r\n", "EPROTOCOL"],
      ["a 4 GiB blob", "$4294967296\r\n", "ETOOLARGE"],
      ["a blob past maxBulkLength", "$33554433\r\n", "ETOOLARGE"],
      ["an array past maxAggregateLength", "*1048577\r\n", "ETOOLARGE"],
      ["a map past maxAggregateLength", "%524289\r\n", "ETOOLARGE"],
      ["nesting past maxDepth", `${"*1\r\n".repeat(65)}:1\r\n`, "ETOOLARGE"],
      ["an integer of 30 digits as a length", "*123456789012345678901234567890\r\n", "EPROTOCOL"],
      ["an integer of 21 digits", ":123456789012345678901\r\n", "EPROTOCOL"],
      ["a sign without digits", ":-\r\n", "EPROTOCOL"],
      ["a length of 20 digits", "$99999999999999999999\r\n", "ETOOLARGE"],
      ["a count of 16 digits", "*1234567890123456\r\n", "ETOOLARGE"],
      ["a negative length of 16 digits", "$-1234567890123456\r\n", "EPROTOCOL"],
    ])("%s", (_name, wire, code) => {
      const decoder = new RespDecoder({ onReply: () => {} });
      let error: unknown;
      try {
        decoder.feed(enc.encode(wire));
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code });
      expect(() => decoder.feed(enc.encode("+OK\r\n"))).toThrow(); // stays failed
    });

    it("a huge length is reported as sent, not as a rounded number", () => {
      const decoder = new RespDecoder({ onReply: () => {} });
      expect(() => decoder.feed(enc.encode("$99999999999999999999\r\n"))).toThrow(/of 99999999999999999999 bytes/);
    });

    it("a line that never ends is refused once it passes maxBulkLength, without waiting for more", () => {
      const decoder = new RespDecoder({ onReply: () => {}, maxBulkLength: 100_000 });
      decoder.feed(enc.encode("+"));
      const chunk = enc.encode("a".repeat(16 * 1024));
      let fed = 0;
      expect(() => {
        for (; fed < 100; fed++) decoder.feed(chunk);
      }).toThrow(expect.objectContaining({ code: "ETOOLARGE", maxBytes: 100_000 }));
      expect(fed).toBe(6); // the seventh chunk passes 100,000 bytes
    });

    it("a line longer than maxBulkLength is refused in one read too, and one at the limit is not", () => {
      const over = new RespDecoder({ onReply: () => {}, maxBulkLength: 10 });
      expect(() => over.feed(enc.encode(`+${"a".repeat(11)}\r\n`))).toThrow(
        expect.objectContaining({ code: "ETOOLARGE" }),
      );
      expect(decode([enc.encode(`-${"e".repeat(10)}\r\n`)], { maxBulkLength: 10 }).out).toEqual([
        { reply: new ReplyError("e".repeat(10)) },
      ]);
    });

    it("an unknown type byte is refused at once, not after waiting for its line", () => {
      const decoder = new RespDecoder({ onReply: () => {} });
      expect(() => decoder.feed(enc.encode("?"))).toThrow(expect.objectContaining({ code: "EPROTOCOL" }));
    });

    it("limits are configurable, up to Redis's own 512 MB", () => {
      const small = new RespDecoder({ onReply: () => {}, maxBulkLength: 4 });
      expect(() => small.feed(enc.encode("$5\r\n"))).toThrow(expect.objectContaining({ code: "ETOOLARGE" }));
      expect(() => new RespDecoder({ onReply: () => {}, maxBulkLength: 1024 ** 3 })).toThrow(TypeError);
      expect(() => new RespDecoder({ onReply: () => {}, maxDepth: 0 })).toThrow(TypeError);
    });

    it("garbage never throws anything but a sockkit error, and never hangs", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
          const decoder = new RespDecoder({ onReply: () => {}, onPush: () => {} });
          try {
            decoder.feed(bytes);
          } catch (error) {
            expect(error).toMatchObject({ code: expect.stringMatching(/^(EPROTOCOL|ETOOLARGE)$/) });
          }
        }),
        { numRuns: 2000 },
      );
    });
  });
});

describe("RESP encoder", () => {
  it("writes arrays of blob strings with byte lengths, so no argument can inject a command", () => {
    expect(text(encodeCommand(["SET", "k", "héllo"]))).toBe("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n");
    expect(text(encodeCommand(["SET", "k", "v\r\n*1\r\n$8\r\nFLUSHALL\r\n"]))).toBe(
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$21\r\nv\r\n*1\r\n$8\r\nFLUSHALL\r\n\r\n",
    );
  });

  it("numbers, bigints, infinities and bytes", () => {
    expect(text(encodeCommand(["ZADD", "z", 1.5, "a", -Infinity, "b", 2n ** 64n, new Uint8Array([65, 66])]))).toBe(
      "*8\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\na\r\n$4\r\n-inf\r\n$1\r\nb\r\n$20\r\n18446744073709551616\r\n$2\r\nAB\r\n",
    );
  });

  it("counts UTF-8 bytes exactly as TextEncoder writes them, lone surrogates included", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 50 }),
        fc.string({ unit: "grapheme", maxLength: 20 }),
        (a, b) => {
          for (const s of [a, b, `${a}\ud800`, `\udc00${b}`]) expect(utf8Length(s)).toBe(enc.encode(s).length);
        },
      ),
    );
  });

  it("long strings and byte arrays are joined into one batch correctly", () => {
    const batch = new CommandBatch();
    const long = "é".repeat(5000);
    batch.add(["SET", "a", long]);
    batch.add(["SET", "b", new Uint8Array([1, 2, 3])]);
    batch.add(["GET", "a"]);
    expect(batch.count).toBe(3);
    const out = batch.take();
    const replies: RespValue[] = [];
    new RespDecoder({ onReply: (v) => replies.push(v), returnBuffers: () => false }).feed(out);
    expect(replies).toEqual([
      ["SET", "a", long],
      ["SET", "b", "\u0001\u0002\u0003"],
      ["GET", "a"],
    ]);
    expect(batch.count).toBe(0);
    expect(batch.take().length).toBe(0);
  });

  it("rejects arguments Redis cannot take, leaving the batch untouched", () => {
    const batch = new CommandBatch();
    batch.add(["PING"]);
    for (const bad of [null, undefined, {}, Number.NaN, Symbol("s"), ["a"], true]) {
      expect(() => batch.add(["SET", "k", bad as never])).toThrow(TypeError);
    }
    expect(text(batch.take())).toBe("*1\r\n$4\r\nPING\r\n");
  });
});

// ---- a RESP3 serializer for the round-trip property (tests only) ----------

type Plain = string | number | bigint | boolean | null | Plain[] | Map<Plain, Plain> | Set<Plain>;

const leaf = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.integer(),
  fc
    .bigInt({ min: -(2n ** 70n), max: 2n ** 70n })
    .filter((n) => n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
);
const respValue: fc.Arbitrary<Plain> = fc.letrec<{ value: Plain }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 4 }),
    fc
      .uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 4 })
      .map((keys) => new Map<Plain, Plain>(keys.map((k, i) => [k, i]))),
    fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 4 }).map((items) => new Set<Plain>(items)),
  ),
})).value;

function serialize(value: Plain): string {
  if (value === null) return "_\r\n";
  if (typeof value === "boolean") return value ? "#t\r\n" : "#f\r\n";
  if (typeof value === "bigint") return `(${value}\r\n`;
  if (typeof value === "number") {
    if (Number.isInteger(value)) return `:${value}\r\n`;
    return `,${value === Infinity ? "inf" : value === -Infinity ? "-inf" : value}\r\n`;
  }
  if (typeof value === "string") return `$${enc.encode(value).length}\r\n${value}\r\n`;
  if (Array.isArray(value)) return `*${value.length}\r\n${value.map(serialize).join("")}`;
  if (value instanceof Map)
    return `%${value.size}\r\n${[...value].map(([k, v]) => serialize(k) + serialize(v)).join("")}`;
  return `~${value.size}\r\n${[...value].map(serialize).join("")}`;
}
