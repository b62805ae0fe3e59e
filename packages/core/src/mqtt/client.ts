import { parseSocketAddress } from "../address.js";
import { connectWithTimeout } from "../connect-with-timeout.js";
import { ClosedError, SockkitError, TimeoutError, TooLargeError, asConnectError, isSockkitError } from "../errors.js";
import { timer, type Timer } from "../timer.js";
import type { Connect, SocketAddress, SocketLike } from "../types.js";
import { MqttDecoder, MqttProtocolError, encodePacket } from "./codec.js";
import type { MqttPacket, MqttProperties, ProtocolVersion, PublishPacket, QoS, Subscription } from "./packets.js";
import { topicMatches, topicNameProblem } from "./topic.js";

/** Options for {@link createMqttClient}. */
export interface MqttClientOptions {
  /** `connect` from `cloudflare:sockets`, `@sockkit/adapter-workers` or `@sockkit/adapter-node`. */
  connect: Connect;
  /** `mqtt://[user[:password]@]host[:port]`, or `mqtts://` for TLS. Options given here win. */
  url?: string;
  /** `"host:port"` or `{ hostname, port }`, instead of `url`. @default "127.0.0.1:1883" */
  address?: string | SocketAddress;
  /** @default "sockkit-" and 12 random characters */
  clientId?: string;
  /** 4 is MQTT 3.1.1 (what every broker speaks), 5 is MQTT 5.0. @default 4 */
  protocolVersion?: ProtocolVersion;
  username?: string;
  password?: string | Uint8Array;
  /** Seconds; 0 turns keepalive off. A broker that goes silent is noticed within 1.5× this. @default 60 */
  keepalive?: number;
  /** Clean session (3.1.1) or clean start (5.0). @default true */
  clean?: boolean;
  /** MQTT 5: seconds the broker keeps the session after a disconnect. @default 0 */
  sessionExpiry?: number;
  /** Published by the broker if this client vanishes without DISCONNECT. */
  will?: { topic: string; payload: string | Uint8Array; qos?: QoS; retain?: boolean; properties?: MqttProperties };
  /** TLS (`secureTransport: "on"`). @default true for mqtts:// URLs, else false */
  tls?: boolean;
  /** Deadline for the connection and CONNACK, in milliseconds. @default 10000 */
  connectTimeoutMs?: number;
  /** Largest packet accepted from the broker (MQTT 5 tells the broker). @default 16777216 */
  maxPacketSize?: number;
  /** Messages a `messages()` iterator may hold for a slow reader before it fails with `ETOOLARGE`. @default 10000 */
  maxBufferedMessages?: number;
  /**
   * Outbound QoS 1/2 messages awaiting acknowledgement at once; the rest wait.
   * An MQTT 5 broker's `receiveMaximum` lowers it further. (Brokers cut
   * clients that send too many: Aedes at 1,000 unreleased QoS 2 messages.)
   * @default 100
   */
  maxInFlight?: number;
}

/** A message the client received. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  /** The payload as UTF-8 text. */
  readonly text: string;
  qos: QoS;
  retain: boolean;
  properties?: MqttProperties;
}

/** Options of {@link MqttClient.publish}. */
export interface PublishOptions {
  /** @default 0 */
  qos?: QoS;
  /** @default false */
  retain?: boolean;
  /** MQTT 5 properties (message expiry, content type, response topic, correlation data, user properties…). */
  properties?: MqttProperties;
}

/** Options of {@link MqttClient.subscribe}, applied to every filter given as a string. */
export interface SubscribeOptions {
  /** @default 0 */
  qos?: QoS;
  /** MQTT 5 */
  noLocal?: boolean;
  /** MQTT 5 */
  retainAsPublished?: boolean;
  /** MQTT 5 */
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5 SUBSCRIBE properties (subscription identifier, user properties). */
  properties?: MqttProperties;
}

/** The broker refused something (CONNACK, SUBACK, PUBACK…) with a reason code. `code` is `"EREPLY"`. */
export class MqttReasonError extends SockkitError {
  readonly reasonCode: number;
  constructor(message: string, reasonCode: number) {
    super("EREPLY", message);
    this.reasonCode = reasonCode;
  }
}

interface Flow {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** What acknowledges this packet id: a QoS 1 or 2 PUBLISH, a SUBSCRIBE, an UNSUBSCRIBE. */
  kind: "qos1" | "qos2" | "suback" | "unsuback";
  /** For outbound QoS 2: PUBREC seen, waiting for PUBCOMP. */
  released?: boolean;
}

/** Bytes of queued output (acknowledgements, mostly) past which the client stops reading. */
const MAX_OUTPUT_BACKLOG = 1024 * 1024;

type ClientSettings = Required<
  Pick<MqttClientOptions, "connect" | "clientId" | "protocolVersion" | "keepalive" | "clean" | "connectTimeoutMs" | "maxPacketSize" | "maxBufferedMessages" | "maxInFlight">
> &
  MqttClientOptions & { hostname: string; port: number; tls: boolean };

const CONNACK_V4 = ["accepted", "unacceptable protocol version", "identifier rejected", "server unavailable", "bad user name or password", "not authorized"];

/**
 * An MQTT 3.1.1 / 5.0 client over any `Connect`: QoS 0, 1 and 2 both ways
 * (inbound QoS 2 delivered exactly once), keepalive that also notices a
 * silent broker, a receive-maximum window, and `end()` that lets QoS flows
 * finish. One connection: reconnection is not built in yet.
 */
export class MqttClient {
  readonly #o: ClientSettings;
  #socket: SocketLike | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #connecting: Promise<{ sessionPresent: boolean; properties?: MqttProperties }> | undefined;
  #failure: Error | undefined;
  #ended = false;
  readonly #operations = new Set<Promise<unknown>>();
  readonly #flows = new Map<number, Flow>(); // outbound QoS 1/2 and SUBSCRIBE/UNSUBSCRIBE, by packet id
  readonly #inboundQos2 = new Set<number>();
  #nextId = 1;
  #window = 65535;
  #inFlight = 0;
  readonly #windowWaiters: Array<() => void> = [];
  readonly #listeners = new Set<(message: MqttMessage) => void>();
  #onConnack: ((packet: MqttPacket) => void) | undefined;
  #keepalive: Timer | undefined;
  #lastSent = 0;
  #lastReceived = 0;
  #pingSentAt = 0;
  #closedResolve!: () => void;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #batchWritten: { promise: Promise<void>; resolve(): void; reject(error: unknown): void } | undefined;
  #writing = false;
  #flushQueued = false;
  #connectAbort: AbortController | undefined;
  /** The broker accepted the connection (CONNACK 0). */
  #connacked = false;
  #maxOutgoing = Infinity;
  /** Resolves once the connection is gone (closed, lost or failed). */
  readonly closed: Promise<void> = new Promise((resolve) => (this.#closedResolve = resolve));

  /** @internal use {@link createMqttClient} */
  constructor(options: ClientSettings) {
    this.#o = options;
  }

  /** Connects and waits for CONNACK; later calls return the same promise. */
  connect(): Promise<{ sessionPresent: boolean; properties?: MqttProperties }> {
    this.#connecting ??= this.#open();
    return this.#connecting;
  }

  /**
   * Publishes. Resolves when the QoS flow completes: written (QoS 0),
   * PUBACK (QoS 1), PUBREC then PUBCOMP (QoS 2). A broker refusal (MQTT 5
   * reason code ≥ 0x80) rejects with `MqttReasonError`.
   */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): Promise<void> {
    return this.#track(this.#publish(topic, payload, options));
  }

  async #publish(topic: string, payload: string | Uint8Array, options: PublishOptions): Promise<void> {
    const qos = options.qos ?? 0;
    const packet: PublishPacket = {
      type: "publish",
      topic,
      payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
      qos,
      retain: options.retain ?? false,
      dup: false,
      ...(this.#o.protocolVersion === 5 && options.properties ? { properties: options.properties } : {}),
    };
    if (!this.#connacked || this.#failure) {
      // Before connecting, a bad topic, QoS or payload must be a TypeError, not a connection.
      // Once connected, encoding checks the same in its single pass.
      const problem = topicNameProblem(topic);
      if (problem && !(topic === "" && packet.properties?.topicAlias !== undefined)) throw new TypeError(problem);
      if (qos !== 0 && qos !== 1 && qos !== 2) throw new TypeError(`QoS must be 0, 1 or 2, got ${String(qos)}`);
      if (!(packet.payload instanceof Uint8Array)) throw new TypeError("a payload must be a string or a Uint8Array");
      await this.connect();
    }
    if (qos === 0) return this.#send(packet);
    // The common case, a free slot, takes no extra turn of the event loop.
    if (this.#inFlight < this.#window && !this.#failure) this.#inFlight++;
    else await this.#acquireWindow();
    const packetId = this.#allocateId();
    try {
      await this.#exchange({ ...packet, packetId }, qos === 1 ? "qos1" : "qos2");
    } finally {
      this.#releaseWindow();
    }
  }

  /** Sends a packet and waits for its acknowledgement; a failed send frees its packet id at once. */
  #exchange(packet: MqttPacket & { packetId: number }, kind: Flow["kind"]): Promise<unknown> {
    const done = this.#expect(packet.packetId, kind);
    done.catch(() => {}); // the caller observes it; a send failure must not leave it unhandled
    // No wait for the write: the acknowledgement cannot come before it. A failed send
    // settles the flow at once and frees its identifier.
    this.#send(packet).catch((error: unknown) => {
      const flow = this.#flows.get(packet.packetId);
      if (flow === undefined) return;
      this.#flows.delete(packet.packetId);
      flow.reject(error);
    });
    return done;
  }

  /**
   * Subscribes; resolves with the broker's answer per filter: the granted
   * QoS (0–2) or a failure reason code (0x80 and up).
   */
  subscribe(filters: string | ReadonlyArray<string | Subscription>, options: SubscribeOptions = {}): Promise<number[]> {
    return this.#track(this.#subscribe(filters, options));
  }

  async #subscribe(filters: string | ReadonlyArray<string | Subscription>, options: SubscribeOptions): Promise<number[]> {
    const list = (typeof filters === "string" ? [filters] : [...filters]).map((f): Subscription =>
      typeof f === "string"
        ? {
            topic: f,
            qos: options.qos ?? 0,
            ...(this.#o.protocolVersion === 5
              ? { noLocal: options.noLocal ?? false, retainAsPublished: options.retainAsPublished ?? false, retainHandling: options.retainHandling ?? 0 }
              : {}),
          }
        : f,
    );
    const packet = { type: "subscribe" as const, packetId: 1, subscriptions: list, ...(this.#o.protocolVersion === 5 && options.properties ? { properties: options.properties } : {}) };
    encodePacket(packet, this.#o.protocolVersion); // validates filters and options first
    await this.connect();
    return (await this.#exchange({ ...packet, packetId: this.#allocateId() }, "suback")) as number[];
  }

  /** Unsubscribes; resolves with MQTT 5 reason codes (empty on 3.1.1). */
  unsubscribe(filters: string | readonly string[]): Promise<number[]> {
    return this.#track(this.#unsubscribe(filters));
  }

  /** Operations end() lets finish: every publish/subscribe/unsubscribe begun before it. */
  #track<T>(operation: Promise<T>): Promise<T> {
    if (this.#ended) {
      operation.catch(() => {});
      return Promise.reject(this.#failure ?? new ClosedError("the MQTT client was ended"));
    }
    this.#operations.add(operation);
    const forget = () => this.#operations.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  async #unsubscribe(filters: string | readonly string[]): Promise<number[]> {
    const topics = typeof filters === "string" ? [filters] : [...filters];
    encodePacket({ type: "unsubscribe", packetId: 1, topics }, this.#o.protocolVersion);
    await this.connect();
    return (await this.#exchange({ type: "unsubscribe", packetId: this.#allocateId(), topics }, "unsuback")) as number[];
  }

  /** Calls `listener` for every message; returns the function that stops it. */
  onMessage(listener: (message: MqttMessage) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("onMessage expects a function");
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Messages (those matching `filter`, if given) as an async iterator, ended
   * by `end()` or by breaking out of the loop. A reader more than
   * `maxBufferedMessages` behind gets `ETOOLARGE`: nothing is dropped silently.
   */
  messages(filter?: string): AsyncIterableIterator<MqttMessage> {
    const buffered: MqttMessage[] = [];
    const waiting: Array<{ resolve(r: IteratorResult<MqttMessage>): void; reject(e: unknown): void }> = [];
    let failure: unknown;
    let ended = false;
    const finish = (error?: unknown) => {
      if (ended) return;
      ended = true;
      failure = error;
      stop();
      for (const w of waiting.splice(0)) error === undefined ? w.resolve({ done: true, value: undefined }) : w.reject(error);
    };
    const stop = this.onMessage((message) => {
      if (filter !== undefined && !topicMatches(filter, message.topic)) return;
      const waiter = waiting.shift();
      if (waiter) return waiter.resolve({ done: false, value: message });
      if (buffered.length >= this.#o.maxBufferedMessages) {
        return finish(new TooLargeError(`the reader fell more than ${this.#o.maxBufferedMessages} messages behind`, this.#o.maxBufferedMessages));
      }
      buffered.push(message);
    });
    // The connection going away ends the iterator: cleanly after end(), with the reason otherwise.
    void this.closed.then(() => finish(this.#ended ? undefined : this.#failure));
    const iterator: AsyncIterableIterator<MqttMessage> = {
      next: () => {
        if (buffered.length > 0) return Promise.resolve({ done: false, value: buffered.shift()! });
        if (ended) return failure === undefined ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(failure);
        return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
      },
      return: async () => {
        finish();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * Lets QoS flows in progress finish (up to `timeoutMs`), sends DISCONNECT
   * and closes. Flows still open at the deadline reject with `ECLOSED`.
   */
  async end({ timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#ended) return this.closed;
    this.#ended = true;
    if ((this.#socket || this.#connecting) && !this.#failure) {
      const deadline = timer(timeoutMs, () => this.#fail(new ClosedError(`end(): QoS flows still open after ${timeoutMs} ms`)));
      deadline.start();
      await Promise.allSettled([...this.#operations]);
      deadline.cancel();
      if (!this.#failure && this.#socket) await this.#send({ type: "disconnect" }).catch(() => {});
    }
    this.#fail(new ClosedError("the MQTT client was ended"));
    return this.closed;
  }

  /** Closes at once; open flows reject with `ECLOSED`. */
  destroy(): void {
    this.#ended = true;
    this.#fail(new ClosedError("the MQTT client was destroyed"));
  }

  async [((Symbol as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for("Symbol.asyncDispose")) as typeof Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }

  // ---- connection --------------------------------------------------------

  async #open(): Promise<{ sessionPresent: boolean; properties?: MqttProperties }> {
    const o = this.#o;
    if (this.#ended) throw new ClosedError("the MQTT client was ended");
    const deadline = new AbortController();
    this.#connectAbort = deadline;
    const giveUp = timer(o.connectTimeoutMs, () => deadline.abort(new TimeoutError(`no CONNACK within ${o.connectTimeoutMs} ms`, o.connectTimeoutMs)));
    giveUp.start();
    try {
      let socket: SocketLike;
      try {
        socket = await connectWithTimeout(o.connect, { hostname: o.hostname, port: o.port }, o.tls ? { secureTransport: "on" } : undefined, {
          timeoutMs: o.connectTimeoutMs,
          signal: deadline.signal,
        });
      } catch (cause) {
        throw asConnectError(cause, `${o.hostname}:${o.port}`, "connecting to the MQTT broker");
      }
      if (this.#failure) {
        // destroy() or end() came while connecting: this socket is not wanted.
        await socket.close().catch(() => {});
        throw this.#failure;
      }
      this.#socket = socket;
      this.#writer = socket.writable.getWriter();
      // Its failures reach us through write(); these two must not surface as unhandled.
      this.#writer.closed.catch(() => {});
      this.#writer.ready.catch(() => {});
      const connack = new Promise<MqttPacket>((resolve) => (this.#onConnack = resolve));
      void this.#readLoop(socket.readable.getReader());
      const will = o.will;
      await this.#send({
        type: "connect",
        protocolVersion: o.protocolVersion,
        clientId: o.clientId,
        clean: o.clean,
        keepalive: o.keepalive,
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: typeof o.password === "string" ? new TextEncoder().encode(o.password) : o.password } : {}),
        ...(will
          ? { will: { topic: will.topic, payload: typeof will.payload === "string" ? new TextEncoder().encode(will.payload) : will.payload, qos: will.qos ?? 0, retain: will.retain ?? false, ...(will.properties ? { properties: will.properties } : {}) } }
          : {}),
        ...(o.protocolVersion === 5 ? { properties: { ...(o.sessionExpiry ? { sessionExpiryInterval: o.sessionExpiry } : {}), maximumPacketSize: o.maxPacketSize } } : {}),
      });
      const aborted = new Promise<never>((_, reject) => {
        deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason), { once: true });
      });
      const closedEarly = this.closed.then(() => {
        throw this.#failure ?? new ClosedError("the broker closed the connection before CONNACK");
      });
      const packet = (await Promise.race([connack, aborted, closedEarly])) as MqttPacket & { type: "connack" };
      if (packet.reasonCode !== 0) {
        const text = o.protocolVersion === 4 ? CONNACK_V4[packet.reasonCode] ?? "refused" : packet.properties?.reasonString ?? "refused";
        throw new MqttReasonError(`the broker refused the connection: ${text} (0x${packet.reasonCode.toString(16)})`, packet.reasonCode);
      }
      this.#window = Math.min(o.maxInFlight, packet.properties?.receiveMaximum ?? 65535);
      this.#maxOutgoing = packet.properties?.maximumPacketSize ?? Infinity;
      const keepalive = packet.properties?.serverKeepAlive ?? o.keepalive;
      if (keepalive > 0) this.#startKeepalive(keepalive * 1000);
      this.#connacked = true;
      return { sessionPresent: packet.sessionPresent, ...(packet.properties ? { properties: packet.properties } : {}) };
    } catch (error) {
      this.#fail(error as Error);
      throw error;
    } finally {
      giveUp.cancel();
    }
  }

  async #readLoop(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new MqttDecoder({ version: this.#o.protocolVersion, maxPacketSize: this.#o.maxPacketSize, onPacket: (p) => this.#onPacket(p) });
    try {
      for (;;) {
        // A broker that floods us while not reading our acknowledgements must not grow our
        // memory: past the backlog, stop reading until the acknowledgements are written.
        while (this.#batchBytes > MAX_OUTPUT_BACKLOG && this.#batchWritten && !this.#failure) {
          await this.#batchWritten.promise.catch(() => {});
        }
        const { done, value } = await reader.read();
        if (done) break;
        this.#lastReceived = Date.now();
        decoder.feed(value);
        if (this.#failure) return;
      }
      this.#fail(new ClosedError("the broker closed the connection"));
    } catch (error) {
      if (error instanceof MqttProtocolError || (isSockkitError(error, "ETOOLARGE") && "reasonCode" in (error as object))) {
        // Tell an MQTT 5 broker why before closing (§4.13).
        const reasonCode = (error as unknown as { reasonCode: number }).reasonCode;
        if (this.#o.protocolVersion === 5) await this.#send({ type: "disconnect", reasonCode }).catch(() => {});
      }
      this.#fail(this.#failure ?? (error as Error));
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // a read still pending (workerd): the socket is closing anyway
      }
    }
  }

  #onPacket(packet: MqttPacket): void {
    switch (packet.type) {
      case "connack":
        this.#onConnack?.(packet);
        this.#onConnack = undefined;
        return;
      case "publish":
        return this.#onPublish(packet);
      case "puback":
      case "pubcomp":
        return this.#settle(packet.packetId, packet.reasonCode, undefined, packet.type);
      case "pubrec": {
        const flow = this.#flows.get(packet.packetId);
        if (flow && flow.kind !== "qos2") throw new MqttProtocolError(`PUBREC for packet ${packet.packetId}, which is not a QoS 2 message`, 0x82);
        if (packet.reasonCode !== undefined && packet.reasonCode >= 0x80) return this.#settle(packet.packetId, packet.reasonCode, undefined, "pubrec");
        if (flow) flow.released = true;
        void this.#send({ type: "pubrel", packetId: packet.packetId }).catch(() => {});
        return;
      }
      case "pubrel":
        // Inbound QoS 2, step two: the message was delivered at PUBLISH; now forget the id.
        this.#inboundQos2.delete(packet.packetId);
        void this.#send({ type: "pubcomp", packetId: packet.packetId }).catch(() => {});
        return;
      case "suback":
        return this.#settle(packet.packetId, undefined, packet.reasonCodes, "suback");
      case "unsuback":
        return this.#settle(packet.packetId, undefined, packet.reasonCodes ?? [], "unsuback");
      case "pingresp":
        this.#pingSentAt = 0;
        return;
      case "disconnect":
        this.#fail(new MqttReasonError(`the broker disconnected: reason 0x${(packet.reasonCode ?? 0).toString(16)}${packet.properties?.reasonString ? ` (${packet.properties.reasonString})` : ""}`, packet.reasonCode ?? 0));
        return;
      default:
        throw new MqttProtocolError(`a client does not expect ${packet.type.toUpperCase()}`, 0x82);
    }
  }

  #onPublish(packet: PublishPacket): void {
    const { qos, packetId } = packet;
    if (qos === 2) {
      // Exactly once: deliver on the first PUBLISH with this id, only acknowledge a repeat.
      const repeat = this.#inboundQos2.has(packetId!);
      if (!repeat) {
        this.#inboundQos2.add(packetId!);
        this.#deliver(packet);
      }
      void this.#send({ type: "pubrec", packetId: packetId! }).catch(() => {});
      return;
    }
    this.#deliver(packet);
    if (qos === 1) void this.#send({ type: "puback", packetId: packetId! }).catch(() => {});
  }

  #deliver(packet: PublishPacket): void {
    const message: MqttMessage = {
      topic: packet.topic,
      payload: packet.payload,
      get text() {
        return new TextDecoder().decode(packet.payload);
      },
      qos: packet.qos,
      retain: packet.retain,
      ...(packet.properties ? { properties: packet.properties } : {}),
    };
    for (const listener of [...this.#listeners]) {
      // A listener's bug is its own: reported as an uncaught error, it never breaks the connection.
      try {
        listener(message);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #expect(packetId: number, kind: Flow["kind"]): Promise<unknown> {
    return new Promise((resolve, reject) => this.#flows.set(packetId, { resolve, reject, kind }));
  }

  #settle(packetId: number, reasonCode: number | undefined, value: unknown, ack: "puback" | "pubcomp" | "pubrec" | "suback" | "unsuback"): void {
    const flow = this.#flows.get(packetId);
    if (!flow) return; // an acknowledgement for nothing we sent: ignore, as brokers resend
    const fits =
      ack === flow.kind ||
      (ack === "puback" && flow.kind === "qos1") ||
      (ack === "pubrec" && flow.kind === "qos2") ||
      (ack === "pubcomp" && flow.kind === "qos2" && flow.released === true);
    if (!fits) throw new MqttProtocolError(`${ack.toUpperCase()} for packet ${packetId}, which awaits something else`, 0x82);
    this.#flows.delete(packetId);
    if (reasonCode !== undefined && reasonCode >= 0x80) flow.reject(new MqttReasonError(`the broker refused: reason 0x${reasonCode.toString(16)}`, reasonCode));
    else flow.resolve(value);
  }

  #allocateId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.#flows.has(id)) return id;
    }
    throw new ClosedError("all 65,535 packet identifiers are in use");
  }

  async #acquireWindow(): Promise<void> {
    while (this.#inFlight >= this.#window) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => this.#windowWaiters.push(resolve));
    }
    if (this.#failure) throw this.#failure;
    this.#inFlight++;
  }

  #releaseWindow(): void {
    this.#inFlight--;
    this.#windowWaiters.shift()?.();
  }

  /**
   * Queues a packet; packets queued in the same tick go out in one write
   * (while a write is in flight the next batch grows). Resolves when its
   * batch is written, so callers wait while the socket is backed up.
   */
  #send(packet: MqttPacket): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    let bytes: Uint8Array;
    try {
      bytes = encodePacket(packet, this.#o.protocolVersion);
    } catch (error) {
      return Promise.reject(error);
    }
    if (bytes.length > this.#maxOutgoing) {
      return Promise.reject(new TooLargeError(`a ${bytes.length}-byte packet is over the broker's maximum packet size of ${this.#maxOutgoing}`, this.#maxOutgoing));
    }
    this.#lastSent = Date.now();
    this.#batch.push(bytes);
    this.#batchBytes += bytes.length;
    const written = (this.#batchWritten ??= deferred());
    if (!this.#writing && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    return written.promise;
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#writing || this.#batch.length === 0) return;
    const parts = this.#batch;
    const out = parts.length === 1 ? parts[0]! : new Uint8Array(this.#batchBytes);
    if (parts.length > 1) {
      let offset = 0;
      for (const part of parts) {
        out.set(part, offset);
        offset += part.length;
      }
    }
    const written = this.#batchWritten!;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#batchWritten = undefined;
    if (this.#failure || !this.#writer) {
      written.reject(this.#failure ?? new ClosedError("the MQTT connection is not open"));
      return;
    }
    this.#writing = true;
    this.#writer.write(out).then(
      () => {
        this.#writing = false;
        written.resolve();
        if (this.#batch.length > 0) this.#flush();
      },
      (error: unknown) => {
        this.#writing = false;
        written.reject(error);
        this.#fail(new ClosedError("writing to the MQTT broker failed", { cause: error }));
      },
    );
  }

  #startKeepalive(periodMs: number): void {
    this.#lastSent = this.#lastReceived = Date.now();
    const check = () => {
      if (this.#failure) return;
      const now = Date.now();
      if (this.#pingSentAt && now - this.#pingSentAt >= periodMs / 2) {
        this.#fail(new TimeoutError(`the broker did not answer PINGREQ within ${periodMs / 2} ms`, periodMs / 2));
        return;
      }
      // Ping when we have been quiet, and also when the broker has: a client that keeps
      // publishing QoS 0 must still notice a broker that stopped answering.
      if (!this.#pingSentAt && (now - this.#lastSent >= periodMs || now - this.#lastReceived >= periodMs)) {
        this.#pingSentAt = now;
        void this.#send({ type: "pingreq" }).catch(() => {});
      }
      const next = this.#pingSentAt
        ? this.#pingSentAt + periodMs / 2
        : Math.min(this.#lastSent, this.#lastReceived) + periodMs;
      this.#keepalive = timer(Math.max(10, next - now), check);
      this.#keepalive.start();
    };
    this.#keepalive = timer(periodMs, check);
    this.#keepalive.start();
  }

  #fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#connectAbort?.abort(error); // a connection still being made stops now
    this.#batchWritten?.reject(error);
    this.#batchWritten = undefined;
    this.#batch = [];
    this.#keepalive?.cancel();
    this.#onConnack = undefined;
    for (const flow of this.#flows.values()) flow.reject(error);
    this.#flows.clear();
    for (const wake of this.#windowWaiters.splice(0)) wake();
    const socket = this.#socket;
    const done = () => this.#closedResolve();
    if (socket) socket.close().then(done, done);
    else done();
  }
}

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: unknown): void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a fire-and-forget acknowledgement's failure is reported through the connection
  return { promise, resolve, reject };
}

/** Creates a client. Nothing connects until `connect()` or the first publish or subscribe. */
export function createMqttClient(options: MqttClientOptions): MqttClient {
  if (typeof options !== "object" || options === null) throw new TypeError("createMqttClient() expects an options object");
  if (typeof options.connect !== "function") throw new TypeError("createMqttClient() needs a connect function (from cloudflare:sockets or an adapter)");
  let hostname = "127.0.0.1";
  let port = 1883;
  let tls = false;
  let username: string | undefined;
  let password: string | undefined;
  if (options.url !== undefined) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError("invalid MQTT URL (expected mqtt://host:port or mqtts://host:port)");
    }
    if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") throw new TypeError(`unsupported MQTT URL scheme "${url.protocol}" (expected mqtt: or mqtts:)`);
    tls = url.protocol === "mqtts:";
    hostname = url.hostname.replace(/^\[|\]$/g, "");
    port = url.port === "" ? (tls ? 8883 : 1883) : Number(url.port);
    username = url.username === "" ? undefined : decodeURIComponent(url.username);
    password = url.password === "" ? undefined : decodeURIComponent(url.password);
  }
  if (options.address !== undefined) ({ hostname, port } = parseSocketAddress(options.address));
  const protocolVersion = options.protocolVersion ?? 4;
  if (protocolVersion !== 4 && protocolVersion !== 5) throw new TypeError(`protocolVersion must be 4 (MQTT 3.1.1) or 5, got ${String(protocolVersion)}`);
  const keepalive = options.keepalive ?? 60;
  if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) throw new TypeError(`keepalive must be an integer number of seconds from 0 to 65535, got ${String(keepalive)}`);
  return new MqttClient({
    ...options,
    hostname: hostname.includes(":") ? `[${hostname}]` : hostname,
    port,
    tls: options.tls ?? tls,
    username: options.username ?? username,
    password: options.password ?? password,
    clientId: options.clientId ?? `sockkit-${Math.random().toString(36).slice(2, 14)}`,
    protocolVersion,
    keepalive,
    clean: options.clean ?? true,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    maxPacketSize: options.maxPacketSize ?? 16 * 1024 * 1024,
    maxBufferedMessages: options.maxBufferedMessages ?? 10_000,
    maxInFlight: options.maxInFlight ?? 100,
  });
}
