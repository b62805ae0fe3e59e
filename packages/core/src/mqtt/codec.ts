import { ProtocolError, TooLargeError } from "../errors.js";
import {
  MAX_REMAINING_LENGTH,
  PACKET_TYPES,
  ReasonCode,
  type MqttPacket,
  type MqttProperties,
  type ProtocolVersion,
  type QoS,
  type MqttSubscription,
} from "./packets.js";
import { PROPERTY_BY_ID, PROPERTY_BY_NAME, REPEATABLE } from "./properties.js";
import { hasLoneSurrogate, topicFilterProblem, topicNameProblem } from "./topic.js";
import type { PublishPacket } from "./packets.js";

/** A packet the peer got wrong. `reasonCode` is the MQTT 5 DISCONNECT reason to send before closing. */
export class MqttProtocolError extends ProtocolError {
  readonly reasonCode: number;
  constructor(message: string, reasonCode: number = ReasonCode.MalformedPacket) {
    super(message);
    this.reasonCode = reasonCode;
  }
}

/** A packet over the negotiated maximum size; nothing of it was buffered. */
export class MqttPacketTooLargeError extends TooLargeError {
  readonly reasonCode = ReasonCode.PacketTooLarge;
}

const utf8 = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the string and must not be stripped (MQTT-1.5.4-3).
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// ---- encoding ---------------------------------------------------------------

/** Encodes a packet for `version`. Throws a `TypeError` naming what is wrong with it. */
export function encodePacket(packet: MqttPacket, version: ProtocolVersion): Uint8Array {
  if (packet.type === "publish" && (version === 4 || !hasProperties(packet.properties)))
    return encodePublish(packet, version);
  const w = new Writer();
  const v5 = version === 5;
  let flags = 0;
  switch (packet.type) {
    case "connect": {
      const { will } = packet;
      w.string("MQTT");
      w.u8(packet.protocolVersion);
      if (packet.password !== undefined && packet.username === undefined && packet.protocolVersion === 4) {
        throw new TypeError("MQTT 3.1.1 cannot send a password without a username");
      }
      if (will) checkTopicName(will.topic);
      w.u8(
        (packet.username !== undefined ? 0x80 : 0) |
          (packet.password !== undefined ? 0x40 : 0) |
          (will?.retain ? 0x20 : 0) |
          ((will ? checkQos(will.qos) : 0) << 3) |
          (will ? 0x04 : 0) |
          (packet.clean ? 0x02 : 0),
      );
      w.u16(checkRange(packet.keepalive, 0, 65535, "keepalive"));
      if (packet.protocolVersion === 5) w.properties(packet.properties);
      w.string(packet.clientId);
      if (will) {
        if (packet.protocolVersion === 5) w.properties(will.properties);
        w.string(will.topic);
        w.binary(will.payload);
      }
      if (packet.username !== undefined) w.string(packet.username);
      if (packet.password !== undefined) w.binary(packet.password);
      break;
    }
    case "connack":
      w.u8(packet.sessionPresent ? 1 : 0);
      w.u8(packet.reasonCode);
      if (v5) w.properties(packet.properties);
      break;
    case "publish": {
      checkTopicName(packet.topic, v5 && packet.properties?.topicAlias !== undefined);
      const qos = checkQos(packet.qos);
      if (qos === 0 && packet.dup) throw new TypeError("a QoS 0 message cannot carry the DUP flag");
      flags = (packet.dup ? 8 : 0) | (qos << 1) | (packet.retain ? 1 : 0);
      w.string(packet.topic);
      if (qos > 0) w.u16(checkPacketId(packet.packetId));
      if (v5) w.properties(packet.properties);
      if (!(packet.payload instanceof Uint8Array)) throw new TypeError("a payload must be a Uint8Array");
      w.bytes(packet.payload);
      break;
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      if (packet.type === "pubrel") flags = 2;
      w.u16(checkPacketId(packet.packetId));
      // MQTT 5 may leave out a success reason code with no properties (§3.4.2.1).
      if (v5 && (packet.reasonCode || hasProperties(packet.properties))) {
        w.u8(packet.reasonCode ?? 0);
        if (hasProperties(packet.properties)) w.properties(packet.properties);
      }
      break;
    case "subscribe":
      flags = 2;
      w.u16(checkPacketId(packet.packetId));
      if (v5) w.properties(packet.properties);
      if (packet.subscriptions.length === 0) throw new TypeError("SUBSCRIBE needs at least one topic filter");
      for (const s of packet.subscriptions) {
        checkTopicFilter(s.topic);
        w.string(s.topic);
        w.u8(subscriptionOptions(s, v5));
      }
      break;
    case "suback":
      w.u16(checkPacketId(packet.packetId));
      if (v5) w.properties(packet.properties);
      for (const code of packet.reasonCodes) w.u8(code);
      break;
    case "unsubscribe":
      flags = 2;
      w.u16(checkPacketId(packet.packetId));
      if (v5) w.properties(packet.properties);
      if (packet.topics.length === 0) throw new TypeError("UNSUBSCRIBE needs at least one topic filter");
      for (const topic of packet.topics) {
        checkTopicFilter(topic);
        w.string(topic);
      }
      break;
    case "unsuback":
      w.u16(checkPacketId(packet.packetId));
      if (v5) {
        w.properties(packet.properties);
        for (const code of packet.reasonCodes ?? []) w.u8(code);
      }
      break;
    case "pingreq":
    case "pingresp":
      break;
    case "disconnect":
      if (v5 && (packet.reasonCode || hasProperties(packet.properties))) {
        w.u8(packet.reasonCode ?? 0);
        if (hasProperties(packet.properties)) w.properties(packet.properties);
      }
      break;
    case "auth":
      if (!v5) throw new TypeError("AUTH exists in MQTT 5 only");
      w.u8(packet.reasonCode);
      w.properties(packet.properties);
      break;
    default:
      throw new TypeError(`unknown packet type ${String((packet as { type?: unknown }).type)}`);
  }
  const body = w.finish();
  if (body.length > MAX_REMAINING_LENGTH)
    throw new TypeError(`the packet is ${body.length} bytes, more than MQTT's ${MAX_REMAINING_LENGTH}`);
  const typeId = PACKET_TYPES.indexOf(packet.type);
  const header = new Uint8Array(1 + varintLength(body.length) + body.length);
  header[0] = (typeId << 4) | flags;
  const offset = writeVarint(header, 1, body.length);
  header.set(body, offset);
  return header;
}

/**
 * PUBLISH without properties, the hot path: sized exactly and written once
 * (the general path builds a body and copies it behind the header).
 */
function encodePublish(packet: PublishPacket, version: ProtocolVersion): Uint8Array {
  const { topic, payload } = packet;
  const qos = checkQos(packet.qos);
  if (qos === 0 && packet.dup) throw new TypeError("a QoS 0 message cannot carry the DUP flag");
  if (!(payload instanceof Uint8Array)) throw new TypeError("a payload must be a Uint8Array");
  const packetId = qos > 0 ? checkPacketId(packet.packetId) : 0;
  // An ASCII topic (the usual case) is copied straight into the packet; others are encoded first.
  const topicBytes = isPlainAsciiTopic(topic) ? undefined : topicUtf8(topic);
  const topicLength = topicBytes ? topicBytes.length : (topic as string).length;
  const remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH)
    throw new TypeError(`the packet is ${remaining} bytes, more than MQTT's ${MAX_REMAINING_LENGTH}`);
  const out = new Uint8Array(1 + varintLength(remaining) + remaining);
  out[0] = 0x30 | (packet.dup ? 8 : 0) | (qos << 1) | (packet.retain ? 1 : 0);
  let i = writeVarint(out, 1, remaining);
  out[i++] = topicLength >> 8;
  out[i++] = topicLength & 255;
  if (topicBytes) out.set(topicBytes, i);
  else for (let k = 0; k < topicLength; k++) out[i + k] = topic.charCodeAt(k);
  i += topicLength;
  if (qos > 0) {
    out[i++] = packetId >> 8;
    out[i++] = packetId & 255;
  }
  if (version === 5) out[i++] = 0; // no properties
  out.set(payload, i);
  return out;
}

/**
 * The part of topicNameProblem a decoded topic can still fail, in one pass: a
 * wildcard or U+0000. Well-formed UTF-8 of at most 65,535 bytes (all string()
 * returns) cannot hold a lone surrogate or be too long.
 */
function hasWildcardOrNul(topic: string): boolean {
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 || c === 0x2b || c === 0) return true;
  }
  return false;
}

/** Whether `topic` is a valid topic name made of ASCII only (its UTF-8 is its char codes). */
function isPlainAsciiTopic(topic: unknown): topic is string {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > 65535) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0 || c === 0x23 || c === 0x2b || c > 0x7f) return false;
  }
  return true;
}

/** A topic name's UTF-8 bytes, or a TypeError saying why it is not one (the rules of topicNameProblem). */
function topicUtf8(topic: unknown): Uint8Array {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > 65535) {
    const problem = topicNameProblem(topic);
    throw new TypeError(problem ?? "a topic is at most 65535 bytes");
  }
  const problem = topicNameProblem(topic);
  if (problem) throw new TypeError(problem);
  const bytes = utf8.encode(topic);
  if (bytes.length > 65535) throw new TypeError(`an MQTT string is at most 65535 bytes, got ${bytes.length}`);
  return bytes;
}

function subscriptionOptions(s: MqttSubscription, v5: boolean): number {
  const qos = checkQos(s.qos);
  if (!v5) {
    if (s.noLocal || s.retainAsPublished || s.retainHandling)
      throw new TypeError("noLocal, retainAsPublished and retainHandling need MQTT 5");
    return qos;
  }
  const handling = s.retainHandling ?? 0;
  if (handling !== 0 && handling !== 1 && handling !== 2)
    throw new TypeError(`retainHandling must be 0, 1 or 2, got ${String(handling)}`);
  if (s.noLocal && s.topic.startsWith("$share/")) throw new TypeError("noLocal cannot be set on a shared subscription");
  return qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (handling << 4);
}

function checkQos(qos: unknown): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new TypeError(`QoS must be 0, 1 or 2, got ${String(qos)}`);
  return qos;
}

function checkPacketId(id: unknown): number {
  return checkRange(id, 1, 65535, "packet identifier");
}

function checkRange(n: unknown, min: number, max: number, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max)
    throw new TypeError(`${what} must be an integer from ${min} to ${max}, got ${String(n)}`);
  return n;
}

function checkTopicName(topic: string, aliasOnly = false): void {
  if (aliasOnly && topic === "") return; // MQTT 5: an empty topic with a topic alias
  const problem = topicNameProblem(topic);
  if (problem) throw new TypeError(problem);
}

function checkTopicFilter(filter: string): void {
  const problem = topicFilterProblem(filter);
  if (problem) throw new TypeError(problem);
}

function hasProperties(properties: MqttProperties | undefined): boolean {
  return properties !== undefined && Object.values(properties).some((v) => v !== undefined);
}

export function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

function writeVarint(out: Uint8Array, offset: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 128;
    out[offset++] = byte;
  } while (n > 0);
  return offset;
}

/** A growable byte buffer for packet bodies. */
class Writer {
  #buf: Uint8Array = new Uint8Array(64);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buf.subarray(0, this.#len));
    this.#buf = bigger;
  }
  u8(n: number): void {
    this.#room(1);
    this.#buf[this.#len++] = n & 255;
  }
  u16(n: number): void {
    this.#room(2);
    this.#buf[this.#len++] = (n >> 8) & 255;
    this.#buf[this.#len++] = n & 255;
  }
  u32(n: number): void {
    this.#room(4);
    this.#buf[this.#len++] = (n >>> 24) & 255;
    this.#buf[this.#len++] = (n >>> 16) & 255;
    this.#buf[this.#len++] = (n >>> 8) & 255;
    this.#buf[this.#len++] = n & 255;
  }
  varint(n: number): void {
    checkRange(n, 0, MAX_REMAINING_LENGTH, "a variable byte integer");
    this.#room(4);
    this.#len = writeVarint(this.#buf, this.#len, n);
  }
  bytes(data: Uint8Array): void {
    this.#room(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
  }
  binary(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new TypeError("binary data must be a Uint8Array");
    if (data.length > 65535) throw new TypeError(`binary data is at most 65535 bytes, got ${data.length}`);
    this.u16(data.length);
    this.bytes(data);
  }
  string(text: string): void {
    if (typeof text !== "string") throw new TypeError(`expected a string, got ${typeof text}`);
    if (text.includes("\u0000")) throw new TypeError("an MQTT string cannot hold U+0000");
    if (hasLoneSurrogate(text)) throw new TypeError("an MQTT string cannot hold a lone surrogate");
    const bytes = utf8.encode(text);
    if (bytes.length > 65535) throw new TypeError(`an MQTT string is at most 65535 bytes, got ${bytes.length}`);
    this.u16(bytes.length);
    this.bytes(bytes);
  }
  properties(properties: MqttProperties | undefined): void {
    const inner = new Writer();
    if (properties) {
      for (const [name, value] of Object.entries(properties) as Array<[keyof MqttProperties, unknown]>) {
        if (value === undefined) continue;
        const spec = PROPERTY_BY_NAME.get(name);
        if (!spec) throw new TypeError(`unknown MQTT 5 property "${name}"`);
        const values = REPEATABLE.has(name) ? (value as unknown[]) : [value];
        for (const one of values) {
          inner.varint(spec.id);
          inner.value(spec.kind, one, name);
        }
      }
    }
    const body = inner.finish();
    this.varint(body.length);
    this.bytes(body);
  }
  value(kind: string, value: unknown, name: string): void {
    switch (kind) {
      case "byte":
        return this.u8(checkRange(value, 0, 255, name));
      case "u16":
        return this.u16(checkRange(value, 0, 65535, name));
      case "u32":
        return this.u32(checkRange(value, 0, 4294967295, name));
      case "varint":
        return this.varint(checkRange(value, 1, MAX_REMAINING_LENGTH, name));
      case "string":
        return this.string(value as string);
      case "binary":
        return this.binary(value as Uint8Array);
      default: {
        const [k, v] = value as [string, string];
        this.string(k);
        this.string(v);
      }
    }
  }
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

// ---- decoding ---------------------------------------------------------------

export interface MqttDecoderOptions {
  /** The protocol level spoken (a client knows it from its CONNECT; a CONNECT packet says its own). */
  version: ProtocolVersion;
  /**
   * Largest whole packet accepted, in bytes, checked before anything is
   * allocated for it (MQTT 5 tells the broker through `maximumPacketSize`).
   * @default 16777216 (16 MiB); at most 268435460
   */
  maxPacketSize?: number;
  onPacket(packet: MqttPacket): void;
}

/**
 * A streaming MQTT decoder: feed it chunks split anywhere. A malformed
 * packet throws `MqttProtocolError` (`EPROTOCOL`, with the MQTT 5 reason
 * code); one over `maxPacketSize` throws `MqttPacketTooLargeError`
 * (`ETOOLARGE`, reason 0x95). After an error it stays failed.
 */
export class MqttDecoder {
  version: ProtocolVersion;
  readonly #max: number;
  readonly #onPacket: (packet: MqttPacket) => void;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #partial: Uint8Array | undefined;
  #filled = 0;
  #failed: Error | undefined;

  constructor(options: MqttDecoderOptions) {
    this.version = options.version;
    this.#max =
      options.maxPacketSize === undefined
        ? 16 * 1024 * 1024
        : checkRange(options.maxPacketSize, 2, MAX_REMAINING_LENGTH + 5, "maxPacketSize");
    this.#onPacket = options.onPacket;
  }

  feed(chunk: Uint8Array): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#feed(chunk);
    } catch (error) {
      this.#failed = error as Error;
      this.#buf = new Uint8Array(0);
      this.#partial = undefined;
      throw error;
    }
  }

  #feed(chunk: Uint8Array): void {
    let offset = 0;
    if (this.#partial) {
      const take = Math.min(this.#partial.length - this.#filled, chunk.length);
      this.#partial.set(chunk.subarray(0, take), this.#filled);
      this.#filled += take;
      offset = take;
      if (this.#filled < this.#partial.length) return;
      const whole = this.#partial;
      this.#partial = undefined;
      this.#packet(whole, 0, whole.length);
    }
    // Join a leftover header (at most 4 bytes) with the new chunk.
    let buf = chunk;
    if (this.#pos < this.#buf.length) {
      const rest = this.#buf.subarray(this.#pos);
      buf = new Uint8Array(rest.length + chunk.length - offset);
      buf.set(rest, 0);
      buf.set(chunk.subarray(offset), rest.length);
      offset = 0;
    }
    let pos = offset;
    while (pos < buf.length) {
      // Fixed header: a byte, then the remaining length (one to four bytes).
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < buf.length; n++, i++) {
        const byte = buf[i]!;
        length += (byte & 127) * multiplier;
        multiplier *= 128;
        if ((byte & 128) === 0) {
          complete = true;
          i++;
          break;
        }
        if (n === 3) throw new MqttProtocolError("the remaining length runs past four bytes");
      }
      if (!complete) break; // the header has not all arrived
      const total = i - pos + length;
      if (total > this.#max)
        throw new MqttPacketTooLargeError(`a ${total}-byte packet is over the limit of ${this.#max} bytes`, this.#max);
      if (pos + total <= buf.length) {
        this.#packet(buf, pos, pos + total);
        pos += total;
        continue;
      }
      // Allocate only now, after the size check.
      this.#partial = new Uint8Array(total);
      this.#partial.set(buf.subarray(pos), 0);
      this.#filled = buf.length - pos;
      pos = buf.length;
    }
    this.#buf = buf;
    this.#pos = pos;
  }

  #packet(buf: Uint8Array, start: number, end: number): void {
    const first = buf[start]!;
    let i = start + 1;
    while (buf[i]! & 128) i++;
    const packet = decodeBody(first >> 4, first & 15, new Reader(buf, i + 1, end), this.version);
    if (packet.type === "connect") this.version = packet.protocolVersion;
    this.#onPacket(packet);
  }
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  get left(): number {
    return this.end - this.pos;
  }
  need(n: number): void {
    if (this.pos + n > this.end) throw new MqttProtocolError("a packet ends in the middle of a field");
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const n = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return n;
  }
  u32(): number {
    this.need(4);
    const b = this.buf;
    const n = ((b[this.pos]! << 24) >>> 0) + (b[this.pos + 1]! << 16) + (b[this.pos + 2]! << 8) + b[this.pos + 3]!;
    this.pos += 4;
    return n;
  }
  varint(): number {
    let n = 0;
    let multiplier = 1;
    for (let k = 0; k < 4; k++) {
      const byte = this.u8();
      n += (byte & 127) * multiplier;
      if ((byte & 128) === 0) return n;
      multiplier *= 128;
    }
    throw new MqttProtocolError("a variable byte integer runs past four bytes");
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = new Uint8Array(this.buf.subarray(this.pos, this.pos + n)); // a plain copy, whatever the input's class
    this.pos += n;
    return out;
  }
  binary(): Uint8Array {
    return this.bytes(this.u16());
  }
  string(): string {
    const n = this.u16();
    this.need(n);
    const start = this.pos;
    this.pos += n;
    // Topics are short and usually ASCII: building those in JS beats TextDecoder's per-call cost.
    if (n <= 64) {
      let ascii = true;
      for (let i = start; i < start + n; i++) {
        const b = this.buf[i]!;
        if (b === 0) throw new MqttProtocolError("a string holds U+0000");
        if (b > 127) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        let out = "";
        let i = start;
        const end = start + n;
        for (; i + 4 <= end; i += 4)
          out += String.fromCharCode(this.buf[i]!, this.buf[i + 1]!, this.buf[i + 2]!, this.buf[i + 3]!);
        for (; i < end; i++) out += String.fromCharCode(this.buf[i]!);
        return out;
      }
    }
    let text: string;
    try {
      text = strictUtf8.decode(this.buf.subarray(start, start + n));
    } catch {
      throw new MqttProtocolError("a string is not well-formed UTF-8");
    }
    if (text.includes("\u0000")) throw new MqttProtocolError("a string holds U+0000");
    return text;
  }
  properties(): MqttProperties | undefined {
    const length = this.varint();
    this.need(length);
    const end = this.pos + length;
    const out: Record<string, unknown> = {};
    while (this.pos < end) {
      const id = this.varint();
      const spec = PROPERTY_BY_ID.get(id);
      if (!spec) throw new MqttProtocolError(`unknown property identifier 0x${id.toString(16)}`);
      const value = this.#property(spec.kind);
      if (REPEATABLE.has(spec.name)) ((out[spec.name] ??= []) as unknown[]).push(value);
      else if (spec.name in out)
        throw new MqttProtocolError(`the property ${spec.name} appears twice`, ReasonCode.ProtocolError);
      else out[spec.name] = value;
    }
    if (this.pos !== end) throw new MqttProtocolError("the properties overrun their length");
    return length === 0 ? undefined : (out as MqttProperties);
  }
  #property(kind: string): unknown {
    switch (kind) {
      case "byte":
        return this.u8();
      case "u16":
        return this.u16();
      case "u32":
        return this.u32();
      case "varint":
        return this.varint();
      case "string":
        return this.string();
      case "binary":
        return this.binary();
      default:
        return [this.string(), this.string()];
    }
  }
  done(what: string): void {
    if (this.pos !== this.end) throw new MqttProtocolError(`${what} has ${this.end - this.pos} bytes too many`);
  }
}

// The packets of a message flow (PUBLISH and its acknowledgements) are decoded in functions of
// their own, ahead of the rest: V8 optimizes a function once it has run bytecode in proportion to
// the function's length, and while PUBLISH was one case of a 3 KB switch, a subscriber decoded
// about 10,000 messages before that happened (--trace-opt; bench/RESULTS.md, sixth session).
function decodeBody(typeId: number, flags: number, r: Reader, version: ProtocolVersion): MqttPacket {
  if (typeId === 3) return decodePublish(flags, r, version === 5);
  if (typeId >= 4 && typeId <= 7) return decodeAck(typeId, flags, r, version === 5);
  return decodeControl(typeId, flags, r, version);
}

function decodePublish(flags: number, r: Reader, v5: boolean): PublishPacket {
  const type = "publish";
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw new MqttProtocolError("PUBLISH with QoS 3");
  const dup = (flags & 8) !== 0;
  if (qos === 0 && dup) throw new MqttProtocolError("a QoS 0 PUBLISH with the DUP flag", ReasonCode.ProtocolError);
  const topic = r.string();
  const packetId = qos > 0 ? r.u16() : undefined;
  if (packetId === 0) throw new MqttProtocolError("packet identifier 0", ReasonCode.ProtocolError);
  const properties = v5 ? r.properties() : undefined;
  if (topic === "" ? !(v5 && properties?.topicAlias) : hasWildcardOrNul(topic) && topicNameProblem(topic)) {
    throw new MqttProtocolError(
      `invalid topic name in PUBLISH: ${topic === "" ? "empty, without a topic alias" : topicNameProblem(topic)}`,
      0x90,
    );
  }
  const payload = r.bytes(r.left);
  return {
    type,
    topic,
    payload,
    qos: qos as QoS,
    retain: (flags & 1) === 1,
    dup,
    ...(packetId !== undefined ? { packetId } : {}),
    ...(properties ? { properties } : {}),
  };
}

function decodeAck(typeId: number, flags: number, r: Reader, v5: boolean): MqttPacket {
  const type = PACKET_TYPES[typeId] as "puback" | "pubrec" | "pubrel" | "pubcomp";
  if (flags !== (typeId === 6 ? 2 : 0))
    throw new MqttProtocolError(`${type.toUpperCase()} has reserved flags 0x${flags.toString(16)}`);
  const packetId = r.u16();
  if (packetId === 0) throw new MqttProtocolError("packet identifier 0", ReasonCode.ProtocolError);
  let reasonCode: number | undefined;
  let properties: MqttProperties | undefined;
  if (v5 && r.left > 0) {
    reasonCode = r.u8();
    if (r.left > 0) properties = r.properties();
  }
  r.done(type.toUpperCase());
  return { type, packetId, ...(reasonCode !== undefined ? { reasonCode } : {}), ...(properties ? { properties } : {}) };
}

function decodeControl(typeId: number, flags: number, r: Reader, version: ProtocolVersion): MqttPacket {
  const type = PACKET_TYPES[typeId];
  if (type === undefined || (type === "auth" && version !== 5))
    throw new MqttProtocolError(`unknown packet type ${typeId}`);
  const expectedFlags = type === "subscribe" || type === "unsubscribe" ? 2 : 0;
  if (flags !== expectedFlags)
    throw new MqttProtocolError(`${type.toUpperCase()} has reserved flags 0x${flags.toString(16)}`);
  const v5 = version === 5;
  switch (type) {
    case "connect": {
      const name = r.string();
      const level = r.u8();
      if (name !== "MQTT" || (level !== 4 && level !== 5))
        throw new MqttProtocolError(`unsupported protocol ${name} level ${level}`, 0x84);
      const connectFlags = r.u8();
      if (connectFlags & 1) throw new MqttProtocolError("CONNECT's reserved flag is set");
      const hasWill = (connectFlags & 4) !== 0;
      const willQos = (connectFlags >> 3) & 3;
      const willRetain = (connectFlags & 0x20) !== 0;
      if (willQos === 3 || (!hasWill && (willQos !== 0 || willRetain)))
        throw new MqttProtocolError("CONNECT's will flags are inconsistent");
      if (level === 4 && connectFlags & 0x40 && !(connectFlags & 0x80))
        throw new MqttProtocolError("a password without a username");
      const keepalive = r.u16();
      const properties = level === 5 ? r.properties() : undefined;
      const clientId = r.string();
      let will;
      if (hasWill) {
        const willProperties = level === 5 ? r.properties() : undefined;
        const topic = r.string();
        if (topicNameProblem(topic)) throw new MqttProtocolError(`invalid will topic: ${topicNameProblem(topic)}`);
        will = {
          topic,
          payload: r.binary(),
          qos: willQos as QoS,
          retain: willRetain,
          ...(willProperties ? { properties: willProperties } : {}),
        };
      }
      const username = connectFlags & 0x80 ? r.string() : undefined;
      const password = connectFlags & 0x40 ? r.binary() : undefined;
      r.done("CONNECT");
      return {
        type,
        protocolVersion: level,
        clientId,
        clean: (connectFlags & 2) !== 0,
        keepalive,
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(will ? { will } : {}),
        ...(properties ? { properties } : {}),
      };
    }
    case "connack": {
      const ackFlags = r.u8();
      if (ackFlags & 0xfe) throw new MqttProtocolError("CONNACK's reserved flags are set");
      const reasonCode = r.u8();
      const properties = v5 ? r.properties() : undefined;
      r.done("CONNACK");
      return { type, sessionPresent: (ackFlags & 1) === 1, reasonCode, ...(properties ? { properties } : {}) };
    }
    case "subscribe": {
      const packetId = r.u16();
      const properties = v5 ? r.properties() : undefined;
      const subscriptions: MqttSubscription[] = [];
      while (r.left > 0) {
        const topic = r.string();
        if (topicFilterProblem(topic))
          throw new MqttProtocolError(`invalid topic filter: ${topicFilterProblem(topic)}`, 0x8f);
        const options = r.u8();
        const qos = options & 3;
        const retainHandling = (options >> 4) & 3;
        if (qos === 3 || retainHandling === 3 || options & 0xc0 || (!v5 && options & 0xfc))
          throw new MqttProtocolError("SUBSCRIBE options use reserved bits");
        subscriptions.push(
          v5
            ? {
                topic,
                qos: qos as QoS,
                noLocal: (options & 4) !== 0,
                retainAsPublished: (options & 8) !== 0,
                retainHandling: retainHandling as 0 | 1 | 2,
              }
            : { topic, qos: qos as QoS },
        );
      }
      if (subscriptions.length === 0)
        throw new MqttProtocolError("SUBSCRIBE without a topic filter", ReasonCode.ProtocolError);
      return { type, packetId, subscriptions, ...(properties ? { properties } : {}) };
    }
    case "suback": {
      const packetId = r.u16();
      const properties = v5 ? r.properties() : undefined;
      const reasonCodes = Array.from(r.bytes(r.left));
      return { type, packetId, reasonCodes, ...(properties ? { properties } : {}) };
    }
    case "unsubscribe": {
      const packetId = r.u16();
      const properties = v5 ? r.properties() : undefined;
      const topics: string[] = [];
      while (r.left > 0) topics.push(r.string());
      if (topics.length === 0)
        throw new MqttProtocolError("UNSUBSCRIBE without a topic filter", ReasonCode.ProtocolError);
      return { type, packetId, topics, ...(properties ? { properties } : {}) };
    }
    case "unsuback": {
      const packetId = r.u16();
      if (!v5) {
        r.done("UNSUBACK");
        return { type, packetId };
      }
      const properties = r.properties();
      return { type, packetId, reasonCodes: Array.from(r.bytes(r.left)), ...(properties ? { properties } : {}) };
    }
    case "pingreq":
    case "pingresp":
      r.done(type.toUpperCase());
      return { type };
    case "disconnect": {
      let reasonCode: number | undefined;
      let properties: MqttProperties | undefined;
      if (v5 && r.left > 0) {
        reasonCode = r.u8();
        if (r.left > 0) properties = r.properties();
      }
      r.done("DISCONNECT");
      return { type, ...(reasonCode !== undefined ? { reasonCode } : {}), ...(properties ? { properties } : {}) };
    }
    default: {
      // auth
      const reasonCode = r.left > 0 ? r.u8() : 0;
      const properties = r.left > 0 ? r.properties() : undefined;
      r.done("AUTH");
      return { type: "auth", reasonCode, ...(properties ? { properties } : {}) };
    }
  }
}
