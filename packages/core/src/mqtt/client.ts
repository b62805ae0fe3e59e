import { asyncDispose } from "../async-dispose.js";
import { ReconnectBackoff } from "../backoff.js";
import { deferred } from "../deferred.js";
import { ClosedError, TimeoutError } from "../errors.js";
import { settledWithin, timer } from "../timer.js";
import { subscribed, tracingOf, type MqttConnectTrace, type MqttPublishTrace, type Tracing } from "../tracing.js";
import { EnhancedAuth } from "./auth.js";
import { MqttProtocolError, encodePacket } from "./codec.js";
import { MqttConnection } from "./connection.js";
import { OutboundFlows } from "./flows.js";
import { Inbound, messageIterator } from "./inbound.js";
import type { MqttMessage } from "./message.js";
import {
  mqttSettings,
  type MqttClientOptions,
  type MqttConnectionEvent,
  type MqttParkedMessage,
  type MqttSettings,
  type PublishOptions,
  type MqttSubscribeOptions,
} from "./options.js";
import type {
  ConnackPacket,
  MqttPacket,
  MqttProperties,
  PublishPacket,
  SubscribePacket,
  MqttSubscription,
} from "./packets.js";
import { brokerLimits, checkOffline, connackRefusal, connectPacket, subscriptionList } from "./outgoing.js";
import { Subscriptions } from "./subscriptions.js";
import { attemptPassword, openSocket } from "./attempt.js";
import { Listeners } from "./listeners.js";
import { topicNameProblem } from "./topic.js";
import { FINAL_DISCONNECT, MqttReasonError, finalError, retryable } from "./reason.js";

type ConnackInfo = { sessionPresent: boolean; properties?: MqttProperties };

interface OfflineMessage {
  packet: PublishPacket;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * An MQTT 3.1.1 / 5.0 client over any `Connect`: QoS 0, 1 and 2 both ways
 * (inbound QoS 2 delivered exactly once, outbound messages in publish order),
 * keepalive that also notices a silent broker, a receive-maximum window,
 * `end()` that lets QoS flows finish, and opt-in reconnection that resumes
 * the session. Its parts: {@link MqttConnection} (one socket), the outbound
 * flows, the inbound messages, and enhanced authentication.
 */
export class MqttClient {
  readonly #o: MqttSettings;
  readonly #flows: OutboundFlows;
  readonly #inbound: Inbound;
  readonly #auth: EnhancedAuth | undefined;
  readonly #backoff: ReconnectBackoff | undefined;
  readonly #tracing: Tracing | undefined;
  /** The latest connection: being made, up, or failed. */
  #conn: MqttConnection | undefined;
  /** The connection the flows go out on: CONNACK came and the session resumed. */
  #online: MqttConnection | undefined;
  #onConnack: ((packet: ConnackPacket) => void) | undefined;
  /** The attempt to be connected: the first one, or the reconnection under way. */
  #connecting: Promise<ConnackInfo> | undefined;
  /** Gives up the attempt in progress (deadline, end(), destroy()). */
  #attempt: AbortController | undefined;
  #wakeBackoff: ((error: Error) => void) | undefined;
  /** The client is finished: ended, destroyed, refused, or out of retries. */
  #fatal: Error | undefined;
  #ended = false;
  #everConnected = false;
  #storeLoaded = false;
  /** QoS 0 messages published while offline, in order. */
  #offline: OfflineMessage[] = [];
  readonly #operations = new Set<Promise<unknown>>();
  /** What the client subscribed to (granted), made again when the broker lost the session. */
  readonly #subscriptions = new Subscriptions();
  readonly #connectionListeners = new Listeners<MqttConnectionEvent>("onConnection");
  readonly #parkedListeners = new Listeners<MqttParkedMessage>("onParked");
  #closedResolve!: () => void;
  /** Resolves once the client is finished (ended, destroyed, or the connection lost without `reconnect`). */
  readonly closed: Promise<void> = new Promise((resolve) => (this.#closedResolve = resolve));

  /** @internal use {@link createMqttClient} */
  constructor(options: MqttSettings) {
    this.#o = options;
    this.#flows = new OutboundFlows({
      ...(options.store ? { store: options.store } : {}),
      keep: options.reconnect !== undefined,
      maxInFlight: options.maxInFlight,
      maxInFlightQoS2: options.maxInFlightQoS2,
      onParked: (parked) => this.#parkedListeners.emit(parked),
    });
    this.#inbound = new Inbound(options.receiveMaximum);
    this.#auth = options.auth ? new EnhancedAuth(options.auth, options.connectTimeoutMs) : undefined;
    this.#backoff = options.reconnect ? new ReconnectBackoff(options.reconnect) : undefined;
    this.#tracing = tracingOf(options.connect);
  }

  /** True while the broker has accepted the current connection. */
  get connected(): boolean {
    return this.#live() !== undefined;
  }

  /**
   * Connects and waits for CONNACK (with `reconnect`, through failed attempts
   * too); while connected, returns the current connection's answer.
   */
  connect(): Promise<ConnackInfo> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#ended) return Promise.reject(new ClosedError("the MQTT client was ended"));
    this.#connecting ??= this.#establish(0);
    return this.#connecting;
  }

  /** Calls `listener` on every connection and disconnection; returns the function that stops it. */
  onConnection(listener: (event: MqttConnectionEvent) => void): () => void {
    return this.#connectionListeners.add(listener);
  }

  /**
   * Calls `listener` for each stored message a connection's broker rules out (once per message
   * and client, and again if a later connection took it and one after that rules it out once
   * more); returns the function that stops it.
   */
  onParked(listener: (parked: MqttParkedMessage) => void): () => void {
    return this.#parkedListeners.add(listener);
  }

  /**
   * Publishes. Resolves when the QoS flow completes: written (QoS 0),
   * PUBACK (QoS 1), PUBREC then PUBCOMP (QoS 2). A broker refusal (MQTT 5
   * reason code ≥ 0x80) rejects with `MqttReasonError`. Messages of one QoS
   * leave in the order of the calls, whatever holds them back (the in-flight
   * window, the store, a reconnection).
   */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): Promise<void> {
    return this.#track(() => this.#publish(topic, payload, options));
  }

  #publish(topic: string, payload: string | Uint8Array, options: PublishOptions): Promise<void> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    const qos = options.qos ?? 0;
    const alias = options.properties?.topicAlias;
    if (this.#o.autoTopicAlias && alias !== undefined) {
      return Promise.reject(
        new TypeError("with autoTopicAlias the client gives topic aliases itself: leave properties.topicAlias out"),
      );
    }
    if (alias === 0) return Promise.reject(new TypeError("topic alias 0 is not allowed (MQTT-3.3.2-8)"));
    const packet: PublishPacket = {
      type: "publish",
      topic,
      payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
      qos,
      retain: options.retain ?? false,
      dup: false,
      ...(this.#o.protocolVersion === 5 && options.properties ? { properties: options.properties } : {}),
    };
    const channel = this.#tracing?.mqttPublish;
    if (subscribed(channel)) {
      // Never the payload: its size.
      const context: MqttPublishTrace = {
        topic,
        qos,
        retain: packet.retain,
        payloadSize: packet.payload.length,
        clientId: this.#o.clientId,
        serverAddress: this.#o.hostname,
        serverPort: this.#o.port,
      };
      return channel.tracePromise(() => this.#dispatch(packet, context), context);
    }
    return this.#dispatch(packet);
  }

  /** A message on its way: now, in the flows' queue, or in the offline queue. */
  #dispatch(packet: PublishPacket, trace?: { packetId?: number }): Promise<void> {
    const qos = packet.qos;
    const online = this.#live();
    if (online !== undefined) {
      // The broker would disconnect on these (MQTT-3.2.2-11, -14, MQTT-3.3.2-9): refuse the message instead.
      const refusal = online.refusal(packet);
      if (refusal) return Promise.reject(refusal);
      // Once connected, encoding checks the message in its single pass. A QoS 1/2 message waits its turn
      // (and is stored) first: its topic is checked now, so a bad one is a TypeError before any of that.
      if (qos === 0) return online.send(packet);
      const problem = topicNameProblem(packet.topic);
      if (problem && !(packet.topic === "" && packet.properties?.topicAlias !== undefined))
        return Promise.reject(new TypeError(problem));
      return this.#flows.publish(packet, trace);
    }
    // Offline, a bad topic, QoS or payload must be a TypeError now, not when a connection is up.
    try {
      checkOffline(packet, this.#o.protocolVersion);
    } catch (error) {
      return Promise.reject(error);
    }
    const reconnect = this.#o.reconnect;
    if (
      reconnect &&
      this.#everConnected &&
      this.#offline.length + this.#flows.waiting >= reconnect.maxOfflineMessages
    ) {
      return Promise.reject(
        new ClosedError(
          `MQTT is reconnecting and ${reconnect.maxOfflineMessages} messages are already waiting (maxOfflineMessages)`,
        ),
      );
    }
    void this.connect().catch(noop); // failing, it finishes the client, which rejects what waits
    if (qos !== 0) return this.#flows.publish(packet, trace);
    return new Promise((resolve, reject) => this.#offline.push({ packet, resolve, reject }));
  }

  /**
   * Subscribes; resolves with the broker's answer per filter: the granted
   * QoS (0–2) or a failure reason code (0x80 and up).
   */
  subscribe(
    filters: string | ReadonlyArray<string | MqttSubscription>,
    options: MqttSubscribeOptions = {},
  ): Promise<number[]> {
    return this.#track(() => this.#subscribe(filters, options));
  }

  async #subscribe(
    filters: string | ReadonlyArray<string | MqttSubscription>,
    options: MqttSubscribeOptions,
  ): Promise<number[]> {
    const v5 = this.#o.protocolVersion === 5;
    const list = subscriptionList(filters, options, v5);
    const properties = v5 ? options.properties : undefined;
    const packet: SubscribePacket = {
      type: "subscribe",
      packetId: 1,
      subscriptions: list,
      ...(properties ? { properties } : {}),
    };
    encodePacket(packet, this.#o.protocolVersion); // validates filters and options first
    await this.#whenOnline();
    const codes = (await this.#flows.request(packet)) as number[];
    this.#subscriptions.granted(packet, codes);
    return codes;
  }

  /** Unsubscribes; resolves with MQTT 5 reason codes (empty on 3.1.1). */
  unsubscribe(filters: string | readonly string[]): Promise<number[]> {
    return this.#track(() => this.#unsubscribe(filters));
  }

  async #unsubscribe(filters: string | readonly string[]): Promise<number[]> {
    const topics = typeof filters === "string" ? [filters] : [...filters];
    encodePacket({ type: "unsubscribe", packetId: 1, topics }, this.#o.protocolVersion);
    await this.#whenOnline();
    // Not made again after a reconnection, whatever the broker answers.
    this.#subscriptions.forget(topics);
    return (await this.#flows.request({ type: "unsubscribe", packetId: 1, topics })) as number[];
  }

  /** Operations end() lets finish: every publish/subscribe/unsubscribe begun before it. */
  #track<T>(start: () => Promise<T>): Promise<T> {
    if (this.#ended) return Promise.reject(this.#fatal ?? new ClosedError("the MQTT client was ended"));
    const operation = start();
    this.#operations.add(operation);
    const forget = () => this.#operations.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  /** Waits until connected: connecting if need be; with `reconnect`, through the reconnection. */
  async #whenOnline(): Promise<void> {
    for (;;) {
      if (this.#fatal) throw this.#fatal;
      if (this.#live() !== undefined) return;
      await this.connect();
    }
  }

  /** Calls `listener` for every message; returns the function that stops it. */
  onMessage(listener: (message: MqttMessage) => void): () => void {
    return this.#inbound.onMessage(listener);
  }

  /**
   * Messages (those matching `filter`, if given) as an async iterator, ended
   * by `end()` or by breaking out of the loop. A reader more than
   * `maxBufferedMessages` behind gets `ETOOLARGE`: nothing is dropped silently.
   */
  messages(filter?: string): AsyncIterableIterator<MqttMessage> {
    // The connection going away ends the iterator: cleanly after end(), with the reason otherwise.
    const ended = this.closed.then(() => (this.#ended ? undefined : this.#fatal));
    return messageIterator(this.#inbound, filter, this.#o.maxBufferedMessages, ended);
  }

  /**
   * Starts a re-authentication (MQTT 5 enhanced authentication, §4.12.1): AUTH 0x19 with `data`
   * (default: the `auth.data` option), each challenge answered by `auth.challenge`. Resolves with
   * the broker's final data (to verify) when its AUTH says success; a broker that refuses
   * disconnects, and this rejects with why. Unfinished after `connectTimeoutMs`, the connection is
   * closed and this rejects with `ETIMEDOUT`.
   */
  reauthenticate(data?: Uint8Array): Promise<Uint8Array | undefined> {
    if (!this.#auth)
      return Promise.reject(new TypeError("reauthenticate() needs the auth option (MQTT 5 enhanced authentication)"));
    if (data !== undefined && !(data instanceof Uint8Array))
      return Promise.reject(new TypeError("reauthenticate() data must be a Uint8Array"));
    if (this.#ended || this.#fatal) return Promise.reject(new ClosedError("the MQTT client was ended"));
    const online = this.#live();
    if (online === undefined) return Promise.reject(new ClosedError("reauthenticate() needs a live connection"));
    return this.#auth.reauthenticate(online, data);
  }

  /**
   * Lets QoS flows in progress finish (up to `timeoutMs`, default 5000), sends
   * DISCONNECT (also when flows are still open at the deadline, so the broker
   * does not publish the will) and closes. Flows not finished by then reject
   * with `ECLOSED`; so do they at once when the client is offline (no
   * reconnection after end()). Past the deadline, writing DISCONNECT may take up
   * to `min(timeoutMs, 1000)` ms more and the close up to 1 s: a broker that
   * stopped reading holds end() for at most `timeoutMs` + 2 s.
   */
  async end({ timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#ended) return this.closed;
    this.#ended = true;
    let stalled: ClosedError | undefined;
    if (this.#live() !== undefined) {
      if (!(await settledWithin(Promise.allSettled([...this.#operations]), timeoutMs))) {
        stalled = new ClosedError(`end(): QoS flows still open after ${timeoutMs} ms`);
      }
      // DISCONNECT also when flows are still open at the deadline: the caller ended the client on
      // purpose, so the broker must not publish its will (those flows reject, below). A broker
      // that stopped reading must not hold end() on this write.
      const online = this.#live();
      if (!this.#fatal && online !== undefined)
        await settledWithin(online.send({ type: "disconnect" }), Math.min(timeoutMs, 1000));
    }
    this.#finish(stalled ?? new ClosedError("the MQTT client was ended"), true);
    return this.closed;
  }

  /** Closes at once; open flows reject with `ECLOSED`. */
  destroy(): void {
    this.#ended = true;
    this.#finish(new ClosedError("the MQTT client was destroyed"));
  }

  async [asyncDispose](): Promise<void> {
    await this.end();
  }

  // ---- connection --------------------------------------------------------

  /** The connection flows go out on, while it is up. */
  #live(): MqttConnection | undefined {
    const online = this.#online;
    return online !== undefined && !online.failed ? online : undefined;
  }

  /** Connects, and with `reconnect` tries again after a backoff until it succeeds, is refused, or runs out of retries. */
  async #establish(firstDelayMs: number): Promise<ConnackInfo> {
    let delay = firstDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (delay > 0) await this.#sleep(delay);
      try {
        return await this.#traceOpen(attempt);
      } catch (error) {
        const backoff = this.#backoff;
        if (!backoff || this.#ended || this.#fatal || !retryable(error) || !backoff.failed()) {
          this.#finish(error as Error);
          throw this.#fatal ?? error;
        }
        delay = backoff.delay();
      }
    }
  }

  /** One attempt, under the `sockkit:mqtt:connect` tracing channel when someone listens. */
  #traceOpen(attempt: number): Promise<ConnackInfo> {
    const channel = this.#tracing?.mqttConnect;
    if (!subscribed(channel)) return this.#open(attempt);
    const o = this.#o;
    const context: MqttConnectTrace = {
      serverAddress: o.hostname,
      serverPort: o.port,
      clientId: o.clientId,
      protocolVersion: o.protocolVersion,
      attempt,
    };
    return channel.tracePromise(() => this.#open(attempt), context);
  }

  /** Waits out a backoff; end() and destroy() cut it short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const wait = timer(ms, () => {
        this.#wakeBackoff = undefined;
        resolve();
      });
      this.#wakeBackoff = (error) => {
        wait.cancel();
        this.#wakeBackoff = undefined;
        reject(error);
      };
      wait.start();
    });
  }

  /** One attempt: socket, CONNECT, CONNACK, the session resumed; within `connectTimeoutMs`. */
  async #open(attemptNumber: number): Promise<ConnackInfo> {
    const o = this.#o;
    if (this.#fatal) throw this.#fatal;
    if (this.#ended) throw new ClosedError("the MQTT client was ended");
    this.#auth?.nextExchange();
    const attempt = new AbortController();
    this.#attempt = attempt;
    const giveUp = timer(o.connectTimeoutMs, () =>
      attempt.abort(new TimeoutError(`no CONNACK within ${o.connectTimeoutMs} ms`, o.connectTimeoutMs)),
    );
    giveUp.start();
    // Rejects when this attempt is given up: raced against each wait below. It outlives the races
    // (the attempt may be aborted later): its rejection is not unhandled.
    const aborted = new Promise<never>((_, reject) => {
      attempt.signal.addEventListener("abort", () => reject(attempt.signal.reason), { once: true });
    });
    aborted.catch(noop);
    let conn: MqttConnection | undefined;
    try {
      const password = await attemptPassword(o, attempt.signal, aborted);
      const socket = await openSocket(o, attempt.signal, attemptNumber);
      const lost = deferred();
      conn = this.#conn = new MqttConnection(socket, {
        version: o.protocolVersion,
        maxPacketSize: o.maxPacketSize,
        topicAliasMaximum: o.topicAliasMaximum,
        onPacket: (packet, connection) => this.#onPacket(packet, connection),
        onFailed: (connection, error) => {
          lost.resolve();
          this.#onFailed(connection, error);
        },
      });
      const connack = new Promise<ConnackPacket>((resolve) => (this.#onConnack = resolve));
      const failed = conn;
      const closedEarly = lost.promise.then(() => {
        throw failed.failure ?? new ClosedError("the broker closed the connection before CONNACK");
      });
      closedEarly.catch(noop); // as `aborted`: the connection may be lost after the race
      await Promise.race([conn.send(connectPacket(o, password)), closedEarly, aborted]);
      const packet = await Promise.race([connack, aborted, closedEarly]);
      if (packet.reasonCode !== 0) throw connackRefusal(packet, o.protocolVersion);
      conn.established(brokerLimits(packet, o), packet.properties?.serverKeepAlive ?? o.keepalive);
      // A store that never answers must not hold the connection past its deadline, nor past its loss.
      const resuming = this.#resume(packet.sessionPresent, conn);
      resuming.catch(noop); // observed by the race, or outlived by it
      const resubscribe = await Promise.race([resuming, aborted, closedEarly]);
      if (conn.failed) throw conn.failure;
      this.#online = conn;
      this.#backoff?.up();
      const reconnected = this.#everConnected;
      this.#everConnected = true;
      // Every unfinished flow goes out again (subscriptions first, then oldest first, within the
      // receive maximum), then the QoS 0 messages published while offline, then whatever comes next.
      this.#flows.attach(conn, resubscribe);
      for (const message of this.#offline.splice(0)) {
        const refusal = conn.refusal(message.packet);
        if (refusal) message.reject(refusal);
        else conn.send(message.packet).then(message.resolve, message.reject);
      }
      this.#connectionListeners.emit({
        type: "connected",
        sessionPresent: packet.sessionPresent,
        reconnected,
        ...(packet.properties ? { properties: packet.properties } : {}),
      });
      return { sessionPresent: packet.sessionPresent, ...(packet.properties ? { properties: packet.properties } : {}) };
    } catch (error) {
      conn?.fail(error as Error);
      throw error;
    } finally {
      giveUp.cancel();
      if (this.#attempt === attempt) this.#attempt = undefined;
    }
  }

  /**
   * After CONNACK, before anything else is sent: what an earlier client left in the store, and
   * the session state the broker no longer has. Returns the subscriptions to make again.
   */
  async #resume(sessionPresent: boolean, conn: MqttConnection): Promise<SubscribePacket[]> {
    const store = this.#o.store;
    if (store && !this.#storeLoaded) {
      const stored = [...(await store.list())]; // read again on the next connection if this fails
      // A read that outlived its connection (given up at the deadline) must not touch the next one.
      if (conn.failed || conn !== this.#conn) throw conn.failure ?? new ClosedError("the connection was replaced");
      this.#storeLoaded = true;
      this.#flows.adopt(stored);
    }
    if (sessionPresent) return [];
    // (The broker forgot which QoS 2 messages it sent us: #onControlPacket cleared them at CONNACK.)
    this.#flows.sessionLost();
    // Made again (when this is a reconnection), ahead of everything else.
    return this.#everConnected ? this.#subscriptions.again() : [];
  }

  #onPacket(packet: MqttPacket, conn: MqttConnection): void {
    // A message flow's packets first, outside the large switch (V8 optimizes a long function late,
    // and this one runs once per message).
    if (packet.type === "publish") return this.#inbound.publish(packet, conn);
    if (packet.type === "puback" || packet.type === "pubcomp")
      return this.#flows.settle(packet.packetId, packet.type, packet.reasonCode);
    this.#onControlPacket(packet, conn);
  }

  #onControlPacket(
    packet: Exclude<MqttPacket, { type: "publish" | "puback" | "pubcomp" }>,
    conn: MqttConnection,
  ): void {
    switch (packet.type) {
      case "connack":
        if (!this.#onConnack) throw new MqttProtocolError("the broker sent a second CONNACK", 0x82); // MQTT-3.2.0-2
        if (packet.reasonCode === 0) {
          // MQTT-4.12.0-5/6: the broker confirms the method the client asked for, or none if it asked for none.
          const method = packet.properties?.authenticationMethod;
          if (method !== this.#o.auth?.method) {
            throw finalError(
              new MqttProtocolError(
                `the broker's CONNACK names authentication method ${JSON.stringify(method)} where the client asked for ${JSON.stringify(this.#o.auth?.method)}`,
                0x82,
              ),
            );
          }
          // Now, not after an await: the broker's next packets (in the same read) belong to the new session.
          if (!packet.sessionPresent) this.#inbound.sessionLost();
          conn.accepted = true;
          this.#auth?.nextExchange(); // a challenge still being answered belongs to the exchange that just ended
        }
        this.#onConnack(packet);
        this.#onConnack = undefined;
        return;
      case "pubrec":
        return this.#flows.pubrec(packet.packetId, packet.reasonCode, conn);
      case "pubrel":
        return this.#inbound.pubrel(packet.packetId, conn);
      case "suback":
        return this.#flows.settle(packet.packetId, "suback", undefined, packet.reasonCodes);
      case "unsuback":
        return this.#flows.settle(packet.packetId, "unsuback", undefined, packet.reasonCodes ?? []);
      case "disconnect": {
        const code = packet.reasonCode ?? 0;
        const reason = packet.properties?.reasonString;
        const error = new MqttReasonError(
          `the broker disconnected: reason 0x${code.toString(16)}${reason ? ` (${reason})` : ""}`,
          code,
        );
        if (FINAL_DISCONNECT.has(code)) this.#finish(error);
        else conn.fail(error);
        return;
      }
      case "auth":
        // §4.12: a broker must not send AUTH to a client that named no method.
        if (!this.#auth)
          throw new MqttProtocolError(
            "the broker sent AUTH, but this client asked for no enhanced authentication",
            0x82,
          );
        return this.#auth.onAuth(packet, conn, conn.accepted);
      default:
        throw new MqttProtocolError(`a client does not expect ${packet.type.toUpperCase()}`, 0x82);
    }
  }

  /**
   * A connection failed. With `reconnect` (and not ending) the client keeps its flows and
   * connects again; otherwise it is finished.
   */
  #onFailed(conn: MqttConnection, error: Error): void {
    this.#auth?.end(conn, error); // the broker's refusal, or the lost connection
    if (conn !== this.#conn) return; // an old connection, already replaced
    const wasUp = this.#online === conn;
    if (wasUp) {
      this.#online = undefined;
      this.#flows.detach();
    }
    if (this.#backoff && !this.#ended && !this.#fatal) {
      if (wasUp) {
        this.#connectionListeners.emit({ type: "disconnected", error, willReconnect: true });
        if (this.#ended || this.#fatal) return; // a listener ended or destroyed the client
        this.#backoff.lost();
        this.#connecting = this.#establish(this.#backoff.delay());
        this.#connecting.catch(noop); // its failure finishes the client, which everyone waiting sees
      }
      return; // not yet up: #establish is deciding whether to try again
    }
    this.#finish(error);
  }

  /** The client is finished: every flow and waiting message gets `error`, and `closed` resolves once the socket is closed. */
  #finish(error: Error, graceful = false): void {
    if (this.#fatal) return;
    const wasUp = this.#live() !== undefined;
    this.#fatal = error;
    this.#wakeBackoff?.(error);
    this.#attempt?.abort(error); // a connection still being made stops now
    const conn = this.#conn;
    conn?.fail(error, graceful);
    this.#online = undefined;
    this.#flows.failAll(error);
    for (const message of this.#offline.splice(0)) message.reject(error);
    if (wasUp || this.#everConnected)
      this.#connectionListeners.emit({ type: "disconnected", error, willReconnect: false });
    void (conn?.closed ?? Promise.resolve()).then(() => this.#closedResolve());
  }
}

function noop(): void {}

/** Creates a client. Nothing connects until `connect()` or the first publish or subscribe. */
export function createMqttClient(options: MqttClientOptions): MqttClient {
  return new MqttClient(mqttSettings(options));
}
