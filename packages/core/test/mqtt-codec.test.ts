import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { MqttDecoder, encodePacket, topicFilterProblem, topicMatches, topicNameProblem } from "../src/mqtt/index.js";
import type { MqttPacket, MqttProperties, ProtocolVersion } from "../src/mqtt/index.js";

const bytes = (s: string) => new TextEncoder().encode(s);

function decodeAll(pieces: Uint8Array[], version: ProtocolVersion, maxPacketSize?: number): MqttPacket[] {
  const out: MqttPacket[] = [];
  const decoder = new MqttDecoder({ version, maxPacketSize, onPacket: (p) => out.push(p) });
  for (const piece of pieces) decoder.feed(piece);
  return out;
}

/** The same packet in mqtt-packet's shape (the reference implementation MQTT.js uses), to compare bytes. */
function toReference(packet: MqttPacket): Record<string, unknown> {
  // Same keys in the same order (property order is byte order), in mqtt-packet's value shapes.
  const props = (p?: MqttProperties) => {
    if (!p) return undefined;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(p)) {
      if (key === "userProperties") out.userProperties = Object.fromEntries(value as Array<[string, string]>);
      else if (key === "subscriptionIdentifiers") out.subscriptionIdentifier = (value as number[])[0];
      else if (key === "payloadFormatIndicator") out.payloadFormatIndicator = value === 1;
      else if (value instanceof Uint8Array) out[key] = Buffer.from(value);
      else out[key] = value;
    }
    return out;
  };
  const buffer = (b?: Uint8Array) => (b === undefined ? undefined : Buffer.from(b));
  switch (packet.type) {
    case "connect":
      return {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: packet.protocolVersion,
        clientId: packet.clientId,
        clean: packet.clean,
        keepalive: packet.keepalive,
        username: packet.username,
        password: buffer(packet.password),
        will: packet.will && {
          ...packet.will,
          payload: buffer(packet.will.payload),
          properties: props(packet.will.properties),
        },
        properties: props(packet.properties),
      };
    case "connack":
      return packet.reasonCode === undefined
        ? {}
        : {
            cmd: "connack",
            sessionPresent: packet.sessionPresent,
            returnCode: packet.reasonCode,
            reasonCode: packet.reasonCode,
            properties: props(packet.properties),
          };
    case "publish":
      return {
        cmd: "publish",
        topic: packet.topic,
        payload: buffer(packet.payload),
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
        messageId: packet.packetId,
        properties: props(packet.properties),
      };
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return {
        cmd: packet.type,
        messageId: packet.packetId,
        reasonCode: packet.reasonCode,
        properties: props(packet.properties),
      };
    case "subscribe":
      return {
        cmd: "subscribe",
        messageId: packet.packetId,
        subscriptions: packet.subscriptions.map((s) => ({
          topic: s.topic,
          qos: s.qos,
          nl: s.noLocal,
          rap: s.retainAsPublished,
          rh: s.retainHandling,
        })),
        properties: props(packet.properties),
      };
    case "suback":
      return {
        cmd: "suback",
        messageId: packet.packetId,
        granted: packet.reasonCodes,
        properties: props(packet.properties),
      };
    case "unsubscribe":
      return {
        cmd: "unsubscribe",
        messageId: packet.packetId,
        unsubscriptions: packet.topics,
        properties: props(packet.properties),
      };
    case "unsuback":
      return {
        cmd: "unsuback",
        messageId: packet.packetId,
        granted: packet.reasonCodes,
        properties: props(packet.properties),
      };
    case "disconnect":
      return { cmd: "disconnect", reasonCode: packet.reasonCode, properties: props(packet.properties) };
    case "auth":
      return { cmd: "auth", reasonCode: packet.reasonCode, properties: props(packet.properties) };
    default:
      return { cmd: packet.type };
  }
}

/** What the long form of a short-form MQTT 5 packet decodes to: the success reason code spelled out. */
function withSuccessCode(packet: MqttPacket): MqttPacket {
  return "reasonCode" in packet && packet.reasonCode !== undefined
    ? packet
    : ({ ...packet, reasonCode: 0 } as MqttPacket);
}

const CORPUS: Array<[string, ProtocolVersion, MqttPacket]> = [];
for (const version of [4, 5] as const) {
  const v5 = version === 5;
  CORPUS.push(
    [
      `CONNECT, minimal`,
      version,
      { type: "connect", protocolVersion: version, clientId: "c1", clean: true, keepalive: 60 },
    ],
    [
      `CONNECT with will, username, password`,
      version,
      {
        type: "connect",
        protocolVersion: version,
        clientId: "client-ü",
        clean: false,
        keepalive: 0,
        username: "user",
        password: bytes("p\u0000ss"),
        will: { topic: "last/will", payload: bytes("gone"), qos: 1, retain: true },
      },
    ],
    [`CONNACK`, version, { type: "connack", sessionPresent: true, reasonCode: 0 }],
    [
      `PUBLISH QoS 0`,
      version,
      { type: "publish", topic: "a/b", payload: bytes("hello"), qos: 0, retain: false, dup: false },
    ],
    [
      `PUBLISH QoS 1 retained`,
      version,
      {
        type: "publish",
        topic: "a/€",
        payload: new Uint8Array([0, 255]),
        qos: 1,
        retain: true,
        dup: false,
        packetId: 1,
      },
    ],
    [
      `PUBLISH QoS 2 dup, empty payload`,
      version,
      { type: "publish", topic: "x", payload: new Uint8Array(), qos: 2, retain: false, dup: true, packetId: 65535 },
    ],
    [`PUBACK`, version, { type: "puback", packetId: 2 }],
    [`PUBREC`, version, { type: "pubrec", packetId: 3 }],
    [`PUBREL`, version, { type: "pubrel", packetId: 4 }],
    [`PUBCOMP`, version, { type: "pubcomp", packetId: 5 }],
    [
      `SUBSCRIBE`,
      version,
      {
        type: "subscribe",
        packetId: 6,
        subscriptions: v5
          ? [
              { topic: "a/+", qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
              { topic: "b/#", qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2 },
            ]
          : [
              { topic: "a/+", qos: 1 },
              { topic: "b/#", qos: 2 },
            ],
      },
    ],
    [`SUBACK`, version, { type: "suback", packetId: 6, reasonCodes: [1, 2, 0x80] }],
    [`UNSUBSCRIBE`, version, { type: "unsubscribe", packetId: 7, topics: ["a/+", "b/#"] }],
    [
      `UNSUBACK`,
      version,
      v5 ? { type: "unsuback", packetId: 7, reasonCodes: [0, 17] } : { type: "unsuback", packetId: 7 },
    ],
    [`PINGREQ`, version, { type: "pingreq" }],
    [`PINGRESP`, version, { type: "pingresp" }],
    [`DISCONNECT`, version, { type: "disconnect" }],
  );
}
CORPUS.push(
  [
    "MQTT 5 CONNECT with properties",
    5,
    {
      type: "connect",
      protocolVersion: 5,
      clientId: "p",
      clean: true,
      keepalive: 30,
      properties: { sessionExpiryInterval: 3600, receiveMaximum: 20, maximumPacketSize: 1024, topicAliasMaximum: 5 },
    },
  ],
  [
    "MQTT 5 PUBLISH with properties",
    5,
    {
      type: "publish",
      topic: "req",
      payload: bytes("{}"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 9,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 60,
        contentType: "application/json",
        responseTopic: "res/1",
        correlationData: bytes("id-1"),
        userProperties: [["k", "v"]],
      },
    },
  ],
  ["MQTT 5 PUBACK with a reason", 5, { type: "puback", packetId: 10, reasonCode: 0x10 }],
  ["MQTT 5 DISCONNECT with a reason", 5, { type: "disconnect", reasonCode: 0x8e }],
  [
    "MQTT 5 PUBREL with a reason and a reason string",
    5,
    {
      type: "pubrel",
      packetId: 11,
      reasonCode: 0x92,
      properties: { reasonString: "no such id", userProperties: [["k", "v"]] },
    },
  ],
  [
    "MQTT 5 PUBCOMP with success and a user property (the reason code is written)",
    5,
    { type: "pubcomp", packetId: 12, reasonCode: 0, properties: { userProperties: [["a", "b"]] } },
  ],
  [
    "MQTT 5 DISCONNECT with properties",
    5,
    {
      type: "disconnect",
      reasonCode: 0x9c,
      properties: { sessionExpiryInterval: 0, reasonString: "moved", serverReference: "other:1883" },
    },
  ],
  [
    "MQTT 5 AUTH continuing an exchange",
    5,
    {
      type: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: "SCRAM-SHA-256", authenticationData: bytes("c=biws,r=abc") },
    },
  ],
  [
    "MQTT 5 AUTH starting a re-authentication, with a reason string",
    5,
    { type: "auth", reasonCode: 0x19, properties: { authenticationMethod: "TEST", reasonString: "again" } },
  ],
  [
    "MQTT 5 SUBACK with a reason string",
    5,
    {
      type: "suback",
      packetId: 13,
      reasonCodes: [0, 0x97],
      properties: { reasonString: "quota", userProperties: [["x", "y"]] },
    },
  ],
  [
    "MQTT 5 PUBLISH by topic alias with a subscription identifier",
    5,
    {
      type: "publish",
      topic: "",
      payload: bytes("p"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 3, subscriptionIdentifiers: [268435455] },
    },
  ],
  [
    "MQTT 5 CONNACK with properties",
    5,
    {
      type: "connack",
      sessionPresent: false,
      reasonCode: 0,
      properties: { receiveMaximum: 10, maximumQoS: 1, assignedClientIdentifier: "auto-1" },
    },
  ],
);

describe("MQTT codec", () => {
  it.each(CORPUS)(
    "%s (v%s): byte-exact with mqtt-packet, decoded back whole and split at every byte",
    (_name, version, packet) => {
      const ours = encodePacket(packet, version);
      const reference = mqttPacket.generate(toReference(packet) as never, { protocolVersion: version });
      // MQTT 5 lets an acknowledgement or DISCONNECT without properties leave out the property
      // length, and with success also the reason code (§3.4.2.1, §3.4.2.2.1, §3.14.2.1); we do,
      // mqtt-packet does not. Both readings must agree. With properties the bytes are the same.
      const shortForm =
        version === 5 &&
        /^(pub|disconnect)/.test(packet.type) &&
        packet.type !== "publish" &&
        !("properties" in packet && packet.properties);
      if (!shortForm) expect(Buffer.from(ours).toString("hex")).toBe(reference.toString("hex"));
      expect(decodeAll([new Uint8Array(reference)], version)).toEqual([shortForm ? withSuccessCode(packet) : packet]);
      expect(decodeAll([ours], version)).toEqual([packet]);
      for (let cut = 0; cut <= ours.length; cut++) {
        expect(decodeAll([ours.slice(0, cut), ours.slice(cut)], version)).toEqual([packet]);
      }
    },
  );

  it("MQTT 5 short forms, byte for byte: no property length without properties, no reason code for success (§3.4.2.1, §3.14.2.1)", () => {
    const hexOf = (packet: MqttPacket) => Buffer.from(encodePacket(packet, 5)).toString("hex");
    expect(hexOf({ type: "puback", packetId: 10, reasonCode: 0x10 })).toBe("4003000a10");
    expect(hexOf({ type: "pubrec", packetId: 10, reasonCode: 0 })).toBe("5002000a");
    expect(hexOf({ type: "pubrel", packetId: 10 })).toBe("6202000a");
    expect(hexOf({ type: "disconnect", reasonCode: 0x8e })).toBe("e0018e");
    expect(hexOf({ type: "disconnect" })).toBe("e000");
  });

  it("the whole corpus back to back, in random pieces, decodes in order", () => {
    for (const version of [4, 5] as const) {
      const packets = CORPUS.filter(([, v]) => v === version).map(([, , p]) => p);
      const wire = new Uint8Array(Buffer.concat(packets.map((p) => encodePacket(p, version))));
      fc.assert(
        fc.property(fc.array(fc.nat(wire.length), { maxLength: 20 }), (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const pieces: Uint8Array[] = [];
          let last = 0;
          for (const p of points) {
            pieces.push(wire.subarray(last, p));
            last = p;
          }
          pieces.push(wire.subarray(last));
          expect(decodeAll(pieces, version)).toEqual(packets);
        }),
        { numRuns: 200 },
      );
    }
  });

  it("encode then decode is the identity for random PUBLISH packets (payloads, flags and MQTT 5 properties)", () => {
    const level = fc.stringMatching(/^[a-z0-9€]{0,6}$/);
    const topic = fc
      .array(level, { minLength: 1, maxLength: 4 })
      .map((l) => l.join("/"))
      .filter((t) => t.length > 0);
    const publish = fc.record({
      type: fc.constant("publish" as const),
      topic,
      payload: fc.uint8Array({ maxLength: 300 }),
      qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
      retain: fc.boolean(),
      packetId: fc.integer({ min: 1, max: 65535 }),
      dup: fc.boolean(),
      properties: fc.option(
        fc.record(
          {
            messageExpiryInterval: fc.nat(),
            contentType: fc.string({ maxLength: 10 }).filter((s) => !s.includes("\u0000")),
            correlationData: fc.uint8Array({ maxLength: 20 }),
            userProperties: fc.array(
              fc
                .tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }))
                .filter(([k, v]) => !(k + v).includes("\u0000")),
              { minLength: 1, maxLength: 3 },
            ),
            subscriptionIdentifiers: fc.array(fc.integer({ min: 1, max: 268435455 }), { minLength: 1, maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(publish, fc.constantFrom(4 as const, 5 as const), (raw, version) => {
        const packet: MqttPacket = {
          type: "publish",
          topic: raw.topic,
          payload: raw.payload,
          qos: raw.qos,
          retain: raw.retain,
          dup: raw.qos > 0 && raw.dup,
          ...(raw.qos > 0 ? { packetId: raw.packetId } : {}),
          ...(version === 5 && raw.properties && Object.keys(raw.properties).length > 0
            ? { properties: raw.properties }
            : {}),
        };
        expect(decodeAll([encodePacket(packet, version)], version)).toEqual([packet]);
      }),
      { numRuns: 500 },
    );
  });

  it("encode then decode is the identity for random packets of every type, on both versions", () => {
    // Text without U+0000 (refused on the wire) and with non-ASCII, to exercise UTF-8.
    const text = fc.string({ maxLength: 8, unit: fc.constantFrom("a", "Z", "0", "/", " ", "é", "€", "😀") });
    const id = fc.integer({ min: 1, max: 65535 });
    const topic = fc
      .array(fc.stringMatching(/^[a-z0-9€]{1,6}$/), { minLength: 1, maxLength: 4 })
      .map((l) => l.join("/"));
    const qos = fc.constantFrom(0 as const, 1 as const, 2 as const);
    const user = fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 3 });
    const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    // Properties each packet type may carry (MQTT 5.0 §2.2.2.2), a random subset of them.
    const props = (model: Record<string, fc.Arbitrary<unknown>>) =>
      opt(fc.record(model, { requiredKeys: [] }).filter((p) => Object.keys(p).length > 0)) as fc.Arbitrary<
        MqttProperties | undefined
      >;
    const reason = { reasonString: text, userProperties: user };
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u16 = fc.integer({ min: 1, max: 65535 });
    const packet = (version: ProtocolVersion): fc.Arbitrary<MqttPacket> => {
      const v5 = version === 5;
      const p5 = (model: Record<string, fc.Arbitrary<unknown>>) => (v5 ? props(model) : fc.constant(undefined));
      const ackReason = v5 ? opt(fc.constantFrom(0x00, 0x10, 0x80, 0x87, 0x91, 0x92)) : fc.constant(undefined);
      return fc.oneof(
        fc
          .record(
            {
              type: fc.constant("connect" as const),
              protocolVersion: fc.constant(version),
              clientId: text,
              clean: fc.boolean(),
              keepalive: fc.integer({ min: 0, max: 65535 }),
              username: opt(text),
              password: opt(fc.uint8Array({ maxLength: 10 })),
              will: opt(
                fc.record({
                  topic,
                  payload: fc.uint8Array({ maxLength: 10 }),
                  qos,
                  retain: fc.boolean(),
                  properties: p5({ willDelayInterval: u32, contentType: text, userProperties: user }),
                }),
              ),
              properties: p5({
                sessionExpiryInterval: u32,
                receiveMaximum: u16,
                maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
                topicAliasMaximum: fc.integer({ min: 0, max: 65535 }),
                userProperties: user,
              }),
            },
            { requiredKeys: ["type", "protocolVersion", "clientId", "clean", "keepalive"] },
          )
          .map((c) =>
            version === 4 && c.password !== undefined && c.username === undefined ? { ...c, username: "u" } : c,
          ),
        fc.record(
          {
            type: fc.constant("connack" as const),
            sessionPresent: fc.boolean(),
            reasonCode: v5 ? fc.constantFrom(0, 0x80, 0x87) : fc.integer({ min: 0, max: 5 }),
            properties: p5({
              ...reason,
              receiveMaximum: u16,
              topicAliasMaximum: u16,
              assignedClientIdentifier: text,
              maximumQoS: fc.constantFrom(0, 1),
            }),
          },
          { requiredKeys: ["type", "sessionPresent", "reasonCode"] },
        ),
        fc.record(
          {
            type: fc.constantFrom("puback" as const, "pubrec" as const, "pubrel" as const, "pubcomp" as const),
            packetId: id,
            reasonCode: ackReason,
            properties: p5(reason),
          },
          { requiredKeys: ["type", "packetId"] },
        ),
        fc.record(
          {
            type: fc.constant("subscribe" as const),
            packetId: id,
            subscriptions: fc.array(
              fc.record(
                v5
                  ? {
                      topic,
                      qos,
                      noLocal: fc.boolean(),
                      retainAsPublished: fc.boolean(),
                      retainHandling: fc.constantFrom(0 as const, 1 as const, 2 as const),
                    }
                  : { topic, qos },
              ),
              { minLength: 1, maxLength: 3 },
            ),
            properties: p5({
              subscriptionIdentifiers: fc.integer({ min: 1, max: 268435455 }).map((n) => [n]),
              userProperties: user,
            }),
          },
          { requiredKeys: ["type", "packetId", "subscriptions"] },
        ),
        fc.record(
          {
            type: fc.constant("suback" as const),
            packetId: id,
            reasonCodes: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 4 }),
            properties: p5(reason),
          },
          { requiredKeys: ["type", "packetId", "reasonCodes"] },
        ),
        fc.record(
          {
            type: fc.constant("unsubscribe" as const),
            packetId: id,
            topics: fc.array(topic, { minLength: 1, maxLength: 3 }),
            properties: p5({ userProperties: user }),
          },
          { requiredKeys: ["type", "packetId", "topics"] },
        ),
        v5
          ? fc.record(
              {
                type: fc.constant("unsuback" as const),
                packetId: id,
                reasonCodes: fc.array(fc.constantFrom(0, 0x11, 0x80), { minLength: 1, maxLength: 4 }),
                properties: p5(reason),
              },
              { requiredKeys: ["type", "packetId", "reasonCodes"] },
            )
          : fc.record({ type: fc.constant("unsuback" as const), packetId: id }),
        fc.record({ type: fc.constantFrom("pingreq" as const, "pingresp" as const) }),
        fc.record(
          {
            type: fc.constant("disconnect" as const),
            reasonCode: ackReason,
            properties: p5({ ...reason, sessionExpiryInterval: u32, serverReference: text }),
          },
          { requiredKeys: ["type"] },
        ),
        ...(v5
          ? [
              fc.record(
                {
                  type: fc.constant("auth" as const),
                  reasonCode: fc.constantFrom(0x00, 0x18, 0x19),
                  properties: props({
                    authenticationMethod: text,
                    authenticationData: fc.uint8Array({ maxLength: 10 }),
                    ...reason,
                  }),
                },
                { requiredKeys: ["type", "reasonCode"] },
              ),
            ]
          : []),
      ) as fc.Arbitrary<MqttPacket>;
    };
    // Fields left out and fields set to undefined are the same packet.
    const defined = (value: unknown): unknown =>
      value instanceof Uint8Array || typeof value !== "object" || value === null
        ? value
        : Array.isArray(value)
          ? value.map(defined)
          : Object.fromEntries(
              Object.entries(value)
                .filter(([, v]) => v !== undefined)
                .map(([k, v]) => [k, defined(v)]),
            );
    for (const version of [4, 5] as const) {
      fc.assert(
        fc.property(packet(version), (raw) => {
          const wire = encodePacket(raw, version);
          const [decoded] = decodeAll([wire], version);
          // The wire's short forms: an MQTT 5 acknowledgement or DISCONNECT with reason 0 and no
          // properties leaves the reason code out (it decodes without one); with properties, a
          // reason code must precede them, so a missing one is written, and read back, as 0.
          const expected = defined(raw) as Record<string, unknown>;
          if (version === 5 && ["puback", "pubrec", "pubrel", "pubcomp", "disconnect"].includes(raw.type)) {
            if (expected.properties === undefined && expected.reasonCode === 0) delete expected.reasonCode;
            if (expected.properties !== undefined) expected.reasonCode ??= 0;
          }
          expect(decoded).toEqual(expected);
          // And the decoded packet encodes to the same bytes.
          expect(encodePacket(decoded!, version)).toEqual(wire);
        }),
        { numRuns: 1000 },
      );
    }
  });

  describe("malformed input (normative statements of the specs) is refused with a typed error", () => {
    const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ""), "hex"));
    it.each([
      ["a remaining length of five bytes", 4, "30 ff ff ff ff 01", "EPROTOCOL", 0x81],
      ["PUBLISH with QoS 3", 4, "36 05 00 01 61 00 01", "EPROTOCOL", 0x81],
      ["a QoS 0 PUBLISH with DUP", 5, "38 04 00 01 61 00", "EPROTOCOL", 0x82],
      ["PUBREL without its reserved flag", 4, "60 02 00 01", "EPROTOCOL", 0x81],
      ["PUBACK with a reserved flag set", 4, "41 02 00 01", "EPROTOCOL", 0x81],
      ["PUBCOMP with a reserved flag set", 5, "72 02 00 01", "EPROTOCOL", 0x81],
      ["SUBSCRIBE without its reserved flag", 4, "80 06 00 01 00 01 61 00", "EPROTOCOL", 0x81],
      ["packet identifier 0", 4, "40 02 00 00", "EPROTOCOL", 0x82],
      ["a string that is not UTF-8", 4, "30 05 00 02 c3 28 00", "EPROTOCOL", 0x81],
      ["a string with U+0000", 4, "30 05 00 02 61 00 00", "EPROTOCOL", 0x81],
      ["a wildcard in a PUBLISH topic", 4, "30 05 00 03 61 2f 23", "EPROTOCOL", 0x90],
      ["a + wildcard in a PUBLISH topic", 5, "30 04 00 01 2b 00", "EPROTOCOL", 0x90],
      ["a surrogate encoded as UTF-8 in a topic", 4, "30 05 00 03 ed a0 80", "EPROTOCOL", 0x81],
      ["SUBSCRIBE without a filter", 4, "82 02 00 01", "EPROTOCOL", 0x82],
      ["SUBSCRIBE with reserved option bits (v3.1.1)", 4, "82 06 00 01 00 01 61 04", "EPROTOCOL", 0x81],
      ["a bad topic filter", 4, "82 07 00 01 00 02 61 23 00", "EPROTOCOL", 0x8f],
      ["PINGREQ with a body", 4, "c0 01 00", "EPROTOCOL", 0x81],
      ["a packet type 0", 4, "00 00", "EPROTOCOL", 0x81],
      ["AUTH on MQTT 3.1.1", 4, "f0 00", "EPROTOCOL", 0x81],
      ["a property twice", 5, "20 09 00 00 06 24 01 24 01 21 00", "EPROTOCOL", 0x82],
      ["an unknown property", 5, "20 05 00 00 02 7f 00", "EPROTOCOL", 0x81],
      ["CONNACK with reserved flags", 4, "20 02 02 00", "EPROTOCOL", 0x81],
      ["CONNECT with the reserved flag", 4, "10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 63", "EPROTOCOL", 0x81],
      ["bytes after the end of a packet's fields", 4, "40 03 00 01 00", "EPROTOCOL", 0x81],
    ] as const)("%s", (_name, version, wire, code, reasonCode) => {
      const decoder = new MqttDecoder({ version, onPacket: () => {} });
      let error: unknown;
      try {
        decoder.feed(hex(wire));
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code, reasonCode });
      expect(() => decoder.feed(hex("d0 00"))).toThrow(); // stays failed
    });

    it("a leading U+FEFF in a string is kept, not stripped as a byte order mark (MQTT-1.5.4-3)", () => {
      const packets: MqttPacket[] = [];
      new MqttDecoder({ version: 4, onPacket: (p) => packets.push(p) }).feed(hex("30 06 00 04 ef bb bf 61"));
      expect(packets).toMatchObject([{ type: "publish", topic: "\ufeffa" }]);
    });

    it("a packet over maxPacketSize is refused from its header, before its body is buffered", () => {
      const decoder = new MqttDecoder({ version: 5, maxPacketSize: 1024, onPacket: () => {} });
      // Declares 200 MB; only the header is sent.
      expect(() => decoder.feed(hex("30 80 80 80 60"))).toThrow(
        expect.objectContaining({ code: "ETOOLARGE", reasonCode: 0x95 }),
      );
    });

    it("random bytes never throw anything but sockkit's typed errors", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(4 as const, 5 as const), (wire, version) => {
          const decoder = new MqttDecoder({ version, onPacket: () => {} });
          try {
            decoder.feed(wire);
          } catch (error) {
            expect(error).toMatchObject({ code: expect.stringMatching(/^(EPROTOCOL|ETOOLARGE)$/) });
          }
        }),
        { numRuns: 3000 },
      );
    });
  });

  it.each([
    [{ type: "publish", topic: "a/#", payload: new Uint8Array(), qos: 0, retain: false, dup: false }, /wildcard/],
    [
      { type: "publish", topic: "a", payload: new Uint8Array(), qos: 1, retain: false, dup: false },
      /packet identifier/,
    ],
    [{ type: "publish", topic: "a", payload: new Uint8Array(), qos: 3, retain: false, dup: false }, /QoS must be/],
    [{ type: "publish", topic: "a\u0000", payload: new Uint8Array(), qos: 0, retain: false, dup: false }, /U\+0000/],
    [{ type: "publish", topic: "a\ud800", payload: new Uint8Array(), qos: 0, retain: false, dup: false }, /surrogate/],
    [{ type: "publish", topic: "a", payload: "text", qos: 0, retain: false, dup: false }, /Uint8Array/],
    [{ type: "subscribe", packetId: 1, subscriptions: [] }, /at least one/],
    [{ type: "subscribe", packetId: 1, subscriptions: [{ topic: "a/#/b", qos: 0 }] }, /# must be/],
    [{ type: "connect", protocolVersion: 4, clientId: "c", clean: true, keepalive: 70000 }, /keepalive/],
  ])("encoding %j throws a TypeError", (packet, message) => {
    expect(() => encodePacket(packet as never, 4)).toThrow(message);
  });
});

describe("MQTT topics", () => {
  it.each([
    ["sport/tennis/player1/#", "sport/tennis/player1", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
    ["sport/#", "sport", true],
    ["#", "sport/tennis", true],
    ["sport/tennis/+", "sport/tennis/player1", true],
    ["sport/tennis/+", "sport/tennis/player1/ranking", false],
    ["sport/+", "sport", false],
    ["sport/+", "sport/", true],
    ["+/+", "/finance", true],
    ["/+", "/finance", true],
    ["+", "/finance", false],
    ["#", "$SYS/uptime", false],
    ["+/monitor/Clients", "$SYS/monitor/Clients", false],
    ["$SYS/#", "$SYS/uptime", true],
    ["$SYS/monitor/+", "$SYS/monitor/Clients", true],
    ["a/b", "a/b", true],
    ["a/b", "a/c", false],
    ["a//c", "a//c", true],
    ["+/+/+", "a//c", true],
    ["$share/group/a/+", "a/b", true],
  ])("%s matches %s: %s", (filter, topic, expected) => {
    expect(topicFilterProblem(filter)).toBeUndefined();
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it.each([
    "sport/tennis#",
    "sport/tennis/#/ranking",
    "sport+",
    "",
    "a\u0000b",
    "$share//a",
    "$share/g+/a",
    "$share/g",
  ])("%j is not a valid filter", (filter) => {
    expect(topicFilterProblem(filter)).toBeTypeOf("string");
  });

  it.each(["", "a/+", "a/#", "a\u0000"])("%j is not a valid topic name", (topic) => {
    expect(topicNameProblem(topic)).toBeTypeOf("string");
  });
});
