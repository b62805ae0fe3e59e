import { parseSocketAddress } from "../address.js";
import { asyncDispose } from "../async-dispose.js";
import { concat } from "../read-all.js";
import { backoffDelay, reconnectSettings, type BackoffOptions } from "../backoff.js";
import { connectWithTimeout } from "../connect-with-timeout.js";
import {
  ClosedError,
  ConnectError,
  SockkitError,
  TimeoutError,
  TooLargeError,
  asConnectError,
  isSockkitError,
} from "../errors.js";
import { settledWithin, timer, type Timer } from "../timer.js";
import { decodeUtf8 } from "../text.js";
import type { Connect, SocketAddress, SocketLike } from "../types.js";
import { MqttDecoder, MqttProtocolError, encodePacket } from "./codec.js";
import type {
  AuthPacket,
  MqttPacket,
  MqttProperties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  Subscription,
} from "./packets.js";
import type { MqttStore, StoredPacket } from "./store.js";
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
  /**
   * A string (sent as UTF-8) or bytes; or a function, called before every connection attempt (the
   * first and each reconnection), for credentials that expire, such as signed tokens. The function
   * has the attempt's `connectTimeoutMs` (`ETIMEDOUT` past it), and `signal` aborts when the attempt
   * is given up (deadline, `end()`, `destroy()`); if it throws or rejects, the attempt fails with
   * `ECONNECT` (its error as `cause`), retried like any failed attempt when `reconnect` is on. A
   * result that is not a string or a Uint8Array is a `TypeError`, never retried. MQTT 3.1.1 sends
   * a password only with a `username`.
   */
  password?:
    string | Uint8Array | ((context: { signal: AbortSignal }) => string | Uint8Array | Promise<string | Uint8Array>);
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
  /**
   * MQTT 5: topic aliases the broker may use in the messages it sends (told in CONNECT). The
   * client resolves them, so every message still carries its topic; an alias outside 1..this,
   * or one the connection never set, ends the connection with `EPROTOCOL` (reason 0x94, 0x82).
   * @default 0
   */
  topicAliasMaximum?: number;
  /**
   * MQTT 5: give topics aliases on the wire, within the broker's CONNACK `topicAliasMaximum`:
   * the first message to a topic carries the name and an alias, the later ones the alias alone
   * (the first topics published take the aliases, for the life of the connection). Saves the
   * topic's bytes on every repeat. `properties.topicAlias` is then the client's to set, not yours.
   * @default false
   */
  autoTopicAlias?: boolean;
  /**
   * MQTT 5 enhanced authentication (§4.12), for brokers that authenticate by challenge and
   * response (SCRAM, Kerberos, a token exchange): CONNECT names `method` and carries `data`, and
   * each AUTH the broker sends to continue is answered with what `challenge` returns for its data.
   * `reauthenticate()` runs the exchange again on a live connection.
   */
  auth?: MqttAuthOptions;
  /** Messages a `messages()` iterator may hold for a slow reader before it fails with `ETOOLARGE`. @default 10000 */
  maxBufferedMessages?: number;
  /**
   * Outbound QoS 1/2 messages awaiting acknowledgement at once; the rest wait.
   * An MQTT 5 broker's `receiveMaximum` lowers it further. (Brokers cut
   * clients that send too many: Aedes at 1,000 unreleased QoS 2 messages.)
   * @default 100
   */
  maxInFlight?: number;
  /**
   * Reconnect after the connection is lost (not after end(), nor when the
   * broker refuses the credentials), with capped exponential backoff and
   * jitter. Unacknowledged QoS 1/2 messages are sent again with the DUP flag
   * and their packet identifiers (a QoS 2 message past PUBREC gets only its
   * PUBREL again); publish() promises stay pending across the gap. When the
   * broker has lost the session (`clean: true`, or it expired) every
   * subscription is made again. Messages published while offline wait in a
   * bounded queue. A connection lost within `maxDelayMs` of its CONNACK
   * counts as a failed attempt for the backoff, so a broker that accepts
   * and drops the client at once (two clients sharing a `clientId` take the
   * session from each other) is not retried every `baseDelayMs` forever.
   * For long-lived Node processes and Durable Objects; a Worker request
   * wants a client of its own, ended at the end.
   * @default false
   */
  reconnect?: boolean | MqttReconnectOptions;
  /**
   * Keeps unacknowledged QoS 1/2 messages outside the client, so that a new
   * client with the same `clientId` (and `clean: false`) resends what an
   * earlier one left. Without one they live in the client's memory.
   */
  store?: MqttStore;
}

/** Reconnection settings (see {@link MqttClientOptions.reconnect}). */
export interface MqttReconnectOptions extends BackoffOptions {
  /**
   * Publishes that may wait while the client is offline (QoS 0 ones, and
   * QoS 1/2 ones past the in-flight window); past it they reject at once
   * with `ECLOSED`.
   * @default 1000
   */
  maxOfflineMessages?: number;
}

/** See {@link MqttClientOptions.auth}. */
export interface MqttAuthOptions {
  /** The authentication method both sides agree on, e.g. `"SCRAM-SHA-256"`. */
  method: string;
  /** Sent in CONNECT (and in the AUTH that starts a re-authentication, unless it is given one). */
  data?: Uint8Array;
  /**
   * Answers the broker's challenge (its AUTH's authentication data) with the next data to send.
   * Without it, a broker that challenges ends the attempt with `EPROTOCOL`; if it throws or
   * rejects, the connection is closed (DISCONNECT 0x80) and the attempt fails with `ECLOSED`
   * (the error as `cause`).
   */
  challenge?: (
    data: Uint8Array | undefined,
    context: { reauthenticating: boolean },
  ) => Uint8Array | Promise<Uint8Array>;
}

/** A change of the connection, for {@link MqttClient.onConnection}. */
export type MqttConnectionEvent =
  | {
      type: "connected";
      sessionPresent: boolean;
      /** true from the second connection on */
      reconnected: boolean;
      /** MQTT 5: the CONNACK's properties (with enhanced authentication, the broker's final data to verify). */
      properties?: MqttProperties;
    }
  | { type: "disconnected"; error: Error; /** false when the client is finished */ willReconnect: boolean };

/**
 * A message an earlier client left in the `store` that this connection's broker rules out (a QoS
 * above its `maximumQoS`, or `retain` where `retainAvailable` is 0), for {@link MqttClient.onParked}.
 * It stays stored and unsent, holding no window slot, and goes out on a later connection that
 * allows it.
 */
export interface MqttParkedMessage {
  packetId: number;
  topic: string;
  /** Why: `EREPLY` with the reason code the broker would have disconnected with (0x9B or 0x9A). */
  error: MqttReasonError;
}

/** A message the client received. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  /**
   * The payload as UTF-8 text, decoded when read. A getter on the message's
   * prototype: spreading the message or `JSON.stringify` does not copy it.
   */
  readonly text: string;
  qos: QoS;
  retain: boolean;
  /**
   * The broker's DUP flag: it may have sent this message before. A QoS 2
   * message the client already has is never delivered twice; a broker that
   * forgot it had completed one (Mosquitto after a restart) may still send it again.
   */
  dup: boolean;
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
  /** What to send again after a reconnection. */
  packet: MqttPacket & { packetId: number };
  /** Written at least once (a PUBLISH sent again then carries DUP). */
  sent: boolean;
  /** The connection it was last written on. */
  generation?: number;
  /** The store has not saved it yet: it is not sent (again) before it is. */
  saving?: Promise<void>;
  /** Loaded from the store: it holds a window slot no publish() releases (unless parked). */
  orphan?: boolean;
  /** An orphan the connected broker rules out: kept in the store, unsent, its window slot given back. */
  parked?: boolean;
  /** A SUBSCRIBE the client made again itself after the broker lost the session. */
  resubscribe?: boolean;
}

/** Bytes of queued output (acknowledgements, mostly) past which the client stops reading. */
const MAX_OUTPUT_BACKLOG = 1024 * 1024;

type ClientSettings = Required<
  Pick<
    MqttClientOptions,
    | "connect"
    | "clientId"
    | "protocolVersion"
    | "keepalive"
    | "clean"
    | "connectTimeoutMs"
    | "maxPacketSize"
    | "maxBufferedMessages"
    | "maxInFlight"
    | "topicAliasMaximum"
    | "autoTopicAlias"
  >
> &
  Omit<MqttClientOptions, "reconnect"> & {
    hostname: string;
    port: number;
    tls: boolean;
    reconnect: Required<MqttReconnectOptions> | undefined;
  };

type ConnackInfo = { sessionPresent: boolean; properties?: MqttProperties };

/** Failures that another attempt would only repeat (a missing auth.challenge, say). */
const FINAL_ERRORS = new WeakSet<object>();
function finalError<E extends Error>(error: E): E {
  FINAL_ERRORS.add(error);
  return error;
}

/** CONNACK refusals worth another attempt: the broker is busy or down, not saying no to us. */
const RETRYABLE_CONNACK = new Set([3, 0x88, 0x89, 0x97, 0x9f]);

/**
 * A broker's DISCONNECT after which reconnecting would only repeat it: our
 * packets were malformed, over its limits, or another client took the session.
 */
const FINAL_DISCONNECT = new Set([0x81, 0x82, 0x8e, 0x90, 0x93, 0x94, 0x95, 0x99, 0x9a, 0x9b]);

const CONNACK_V4 = [
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
];

/**
 * An MQTT 3.1.1 / 5.0 client over any `Connect`: QoS 0, 1 and 2 both ways
 * (inbound QoS 2 delivered exactly once), keepalive that also notices a
 * silent broker, a receive-maximum window, `end()` that lets QoS flows
 * finish, and opt-in reconnection that resumes the session.
 */
export class MqttClient {
  readonly #o: ClientSettings;
  // ---- the current connection (replaced on each reconnection)
  #socket: SocketLike | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Bumped per connection: a late packet or write result of an old one is ignored. */
  #generation = 0;
  /** The current connection failed (it is being closed, or replaced). */
  #failure: Error | undefined;
  /** The broker accepted the current connection (CONNACK 0). */
  #connacked = false;
  #connectAbort: AbortController | undefined;
  #lost: Deferred<void> | undefined;
  #socketClosed: Promise<unknown> = Promise.resolve();
  #onConnack: ((packet: MqttPacket) => void) | undefined;
  #keepalive: Timer | undefined;
  #lastSent = 0;
  #lastReceived = 0;
  #pingSentAt = 0;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #batchWritten: Deferred<void> | undefined;
  #writing = false;
  #flushQueued = false;
  #maxOutgoing = Infinity;
  // What an MQTT 5 broker's CONNACK says it accepts (MQTT 3.1.1 brokers accept everything).
  #maximumQoS: QoS = 2;
  #retainAvailable = true;
  // When the current connection got its CONNACK, and how many connections in a row were lost soon after.
  #upSince = 0;
  #quickLosses = 0;
  // ---- the client (outlives connections)
  /** The attempt to be connected: the first one, or the reconnection under way. */
  #connecting: Promise<ConnackInfo> | undefined;
  /** The client is finished: ended, destroyed, refused, or out of retries. */
  #fatal: Error | undefined;
  #ended = false;
  #everConnected = false;
  #storeLoaded = false;
  /** Flows wait for the receive maximum to let them out on this connection. */
  #backlog = false;
  /** The batch being written: failed with the connection, not left to a write that may never end. */
  #writingBatch: Deferred<void> | undefined;
  #offlineWaiting = 0;
  #wakeBackoff: ((error: Error) => void) | undefined;
  readonly #operations = new Set<Promise<unknown>>();
  readonly #flows = new Map<number, Flow>(); // outbound QoS 1/2 and SUBSCRIBE/UNSUBSCRIBE, by packet id
  /** Inbound QoS 2 messages delivered and awaiting PUBREL, by packet id. */
  readonly #inboundQos2 = new Map<number, PublishPacket>();
  /** What the client subscribed to (granted), made again when the broker lost the session. */
  readonly #subscriptions = new Map<string, { subscription: Subscription; properties?: MqttProperties }>();
  #nextId = 1;
  #window = 65535;
  #inFlight = 0;
  readonly #windowWaiters: Array<() => void> = [];
  readonly #listeners = new Set<(message: MqttMessage) => void>();
  // Topic aliases of the current connection: the broker's (alias -> topic) and ours (topic -> alias).
  readonly #inboundAliases = new Map<number, string>();
  readonly #outboundAliases = new Map<string, number>();
  #outboundAliasMax = 0;
  // Enhanced authentication: the answers to the broker's challenges go out one after another; a
  // re-authentication under way settles when the broker's AUTH says success.
  #authTurn: Promise<void> = Promise.resolve();
  #reauthenticating: (Deferred<Uint8Array | undefined> & { generation: number; deadline: Timer }) | undefined;
  // Which exchange a challenge belongs to: bumped when one ends, so a late answer is dropped.
  #authExchange = 0;
  // Whether this connection's CONNACK came (set as it is read, before the session resumes).
  #connackSeen = false;
  #listenerList: ((message: MqttMessage) => void)[] | undefined;
  readonly #connectionListeners = new Set<(event: MqttConnectionEvent) => void>();
  readonly #parkedListeners = new Set<(parked: MqttParkedMessage) => void>();
  #closedResolve!: () => void;
  /** Resolves once the client is finished (ended, destroyed, or the connection lost without `reconnect`). */
  readonly closed: Promise<void> = new Promise((resolve) => (this.#closedResolve = resolve));

  /** @internal use {@link createMqttClient} */
  constructor(options: ClientSettings) {
    this.#o = options;
  }

  /** True while the broker has accepted the current connection. */
  get connected(): boolean {
    return this.#connacked && !this.#failure;
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
    if (typeof listener !== "function") throw new TypeError("onConnection expects a function");
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  /**
   * Calls `listener` for each stored message a connection's broker rules out (once per message
   * and client, and again if a later connection took it and one after that rules it out once
   * more); returns the function that stops it.
   */
  onParked(listener: (parked: MqttParkedMessage) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("onParked expects a function");
    this.#parkedListeners.add(listener);
    return () => this.#parkedListeners.delete(listener);
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
    if (this.#o.autoTopicAlias && options.properties?.topicAlias !== undefined) {
      throw new TypeError("with autoTopicAlias the client gives topic aliases itself: leave properties.topicAlias out");
    }
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
      encodePacket({ ...packet, packetId: 1 }, this.#o.protocolVersion); // a message that can never be sent is refused now
      // An alias names a topic for one connection: a message by alias alone cannot wait for another.
      if (topic === "")
        throw new TypeError(
          "a PUBLISH with only a topic alias needs the connection that set the alias up, and the client is not connected",
        );
      // Reconnecting, a QoS 1/2 message takes its identifier (and its place in the store) now, and
      // goes out on reconnection; anything else waits to be connected.
      if (qos === 0 || !this.#o.reconnect || !this.#everConnected) await this.#whenOnline();
      else if (this.#fatal) throw this.#fatal;
    }
    // The broker would disconnect on these (MQTT-3.2.2-11, MQTT-3.2.2-14): refuse the message instead.
    const refusal = this.#ruledOut(packet);
    if (refusal) throw refusal;
    if (qos === 0) return this.#send(packet);
    // The common case, a free slot, takes no extra turn of the event loop (nor overtakes a waiter).
    if (this.#inFlight < this.#window && this.#windowWaiters.length === 0 && !this.#fatal) this.#inFlight++;
    else await this.#acquireWindow();
    try {
      await this.#exchange({ ...packet, packetId: this.#allocateId() }, qos === 1 ? "qos1" : "qos2");
    } finally {
      this.#releaseWindow();
    }
  }

  /** Waits until connected: connecting if need be; with `reconnect`, through the reconnection (bounded). */
  async #whenOnline(): Promise<void> {
    for (;;) {
      if (this.#fatal) throw this.#fatal;
      if (this.#connacked && !this.#failure) return;
      const reconnect = this.#o.reconnect;
      if (reconnect && this.#everConnected && this.#offlineWaiting >= reconnect.maxOfflineMessages) {
        throw new ClosedError(
          `MQTT is reconnecting and ${reconnect.maxOfflineMessages} messages are already waiting (maxOfflineMessages)`,
        );
      }
      this.#offlineWaiting++;
      try {
        await this.connect();
      } finally {
        this.#offlineWaiting--;
      }
    }
  }

  /**
   * Sends a packet (now if connected, else on reconnection) and waits for its
   * acknowledgement. A store, if any, has the message before it is sent.
   */
  #exchange(packet: MqttPacket & { packetId: number }, kind: Flow["kind"]): Promise<unknown> {
    const id = packet.packetId;
    let flow!: Flow;
    const done = new Promise((resolve, reject) =>
      this.#flows.set(id, (flow = { resolve, reject, kind, packet, sent: false })),
    );
    done.catch(() => {}); // the caller observes it; a send failure must not leave it unhandled
    const store = this.#o.store;
    if (store && (kind === "qos1" || kind === "qos2")) {
      let saved: void | Promise<void>;
      try {
        saved = store.put(packet as StoredPacket);
      } catch (error) {
        this.#abandon(id, error);
        return done;
      }
      if (saved && typeof saved.then === "function") {
        // Not sent, not even by a reconnection, before the store has it: a message the broker
        // may have seen is always in the store.
        flow.saving = saved.then(
          () => {
            flow.saving = undefined;
            this.#pump(); // within the receive maximum, like every other flow
          },
          (error: unknown) => this.#abandon(id, error),
        );
        return done;
      }
    }
    this.#transmit(id);
    return done;
  }

  /**
   * Writes a flow's packet if connected (no wait for the write: the acknowledgement cannot come
   * before it). Returns whether it wrote one, so that #pump counts only flows the broker will see.
   */
  #transmit(id: number): boolean {
    const flow = this.#flows.get(id);
    if (!flow || flow.saving || !this.#connacked || this.#failure) return false; // sent once saved, or on reconnection
    const generation = this.#generation;
    if (flow.generation === generation) return false; // already written on this connection
    const released = flow.kind === "qos2" && flow.released === true; // only its PUBREL goes out
    if (
      (flow.generation !== undefined || flow.orphan) &&
      !released &&
      flow.packet.type === "publish" &&
      flow.packet.properties?.topicAlias !== undefined
    ) {
      // Topic aliases end with their connection: send the full topic name again, or give up.
      const { topicAlias: _, ...properties } = flow.packet.properties;
      if (flow.packet.topic === "") {
        this.#abandon(
          id,
          new ClosedError("a PUBLISH sent with only a topic alias cannot be sent again on a new connection"),
        );
        return false;
      }
      flow.packet = { ...flow.packet, properties };
    }
    if (!released && flow.packet.type === "publish") {
      // Accepted under an earlier connection's CONNACK (or stored by an earlier client), the
      // message may be one this broker rules out: sent, the broker would disconnect with 0x9B or
      // 0x9A (which ends the client), and a stored one would do that to every client loading it.
      const refusal = this.#ruledOut(flow.packet);
      if (refusal) {
        if (flow.orphan) {
          // Another client's message: kept in the store, unsent, for a connection that takes it;
          // meanwhile its window slot goes back, so it holds up no one.
          if (!flow.parked) {
            flow.parked = true;
            this.#releaseWindow();
            // After the current step (a reconnection reports "connected" first), never re-entering #pump.
            const parked: MqttParkedMessage = { packetId: id, topic: flow.packet.topic, error: refusal };
            queueMicrotask(() => this.#report(this.#parkedListeners, parked));
          }
        } else if (flow.generation !== undefined) {
          // Written on an earlier connection: the broker may have it, so "refused" would be wrong.
          this.#abandon(
            id,
            new ClosedError(
              "the broker came back accepting less (maximumQoS or retainAvailable) and this message, sent on an earlier connection, cannot be sent again: whether it was delivered is unknown",
              { cause: refusal },
            ),
          );
        } else {
          this.#abandon(id, refusal);
        }
        return false;
      }
      if (flow.parked) {
        flow.parked = false;
        this.#inFlight++;
      }
    }
    const packet = released
      ? { type: "pubrel" as const, packetId: id }
      : flow.sent && flow.packet.type === "publish"
        ? { ...flow.packet, dup: true }
        : flow.packet;
    flow.sent = true;
    flow.generation = generation;
    this.#send(packet).catch((error: unknown) => {
      // A lost connection (its failure is recorded by now, or a newer one is up) keeps the flow
      // for the next one; a packet that cannot be sent at all (too large for the broker) ends it.
      if (this.#o.reconnect && !this.#fatal && (this.#failure || generation !== this.#generation)) return;
      this.#abandon(id, error);
    });
    return true;
  }

  /**
   * Writes the flows not yet written on this connection, oldest first, while
   * the broker's receive maximum allows (a reconnection may find it smaller).
   */
  #pump(): void {
    if (!this.#connacked || this.#failure) return;
    const generation = this.#generation;
    let outstanding = 0;
    for (const flow of this.#flows.values())
      if (flow.generation === generation && (flow.kind === "qos1" || flow.kind === "qos2")) outstanding++;
    this.#backlog = false;
    for (const [id, flow] of this.#flows) {
      if (flow.generation === generation || flow.saving) continue;
      const counted = flow.kind === "qos1" || flow.kind === "qos2";
      if (counted && outstanding >= this.#window) {
        this.#backlog = true;
        continue;
      }
      if (this.#transmit(id) && counted) outstanding++;
    }
  }

  /** Why the connected broker's CONNACK rules this PUBLISH out, if it does (maximumQoS, retainAvailable). */
  #ruledOut(packet: PublishPacket): MqttReasonError | undefined {
    if (packet.qos > this.#maximumQoS) {
      return new MqttReasonError(
        `the broker accepts QoS up to ${this.#maximumQoS} (its CONNACK's maximumQoS); this message asked for QoS ${packet.qos}`,
        0x9b,
      );
    }
    if (packet.retain && !this.#retainAvailable)
      return new MqttReasonError(
        "the broker does not keep retained messages (its CONNACK's retainAvailable is 0)",
        0x9a,
      );
    return undefined;
  }

  /** Ends a flow with an error and frees its identifier (and its stored copy). */
  #abandon(id: number, error: unknown): void {
    const flow = this.#flows.get(id);
    if (flow === undefined) return;
    this.#flows.delete(id);
    this.#forget(flow, id);
    flow.reject(error);
  }

  /** A flow is over: its stored copy goes (after a save still under way), and an orphan frees its slot. */
  #forget(flow: Flow, id: number): void {
    if (flow.orphan) {
      flow.orphan = false;
      if (!flow.parked) this.#releaseWindow(); // a parked one gave its slot back already
    }
    const store = this.#o.store;
    if (!store || (flow.kind !== "qos1" && flow.kind !== "qos2")) return;
    const remove = () => {
      try {
        const removed = store.delete(id);
        // A failed delete means a duplicate after a restart at worst (QoS 1/2 allow it); not a reason to fail the flow.
        if (removed && typeof removed.then === "function") removed.then(undefined, () => {});
      } catch {
        // as above
      }
    };
    if (flow.saving) void flow.saving.then(remove, remove);
    else remove();
  }

  /**
   * Subscribes; resolves with the broker's answer per filter: the granted
   * QoS (0–2) or a failure reason code (0x80 and up).
   */
  subscribe(filters: string | ReadonlyArray<string | Subscription>, options: SubscribeOptions = {}): Promise<number[]> {
    return this.#track(this.#subscribe(filters, options));
  }

  async #subscribe(
    filters: string | ReadonlyArray<string | Subscription>,
    options: SubscribeOptions,
  ): Promise<number[]> {
    const list = (typeof filters === "string" ? [filters] : [...filters]).map((f): Subscription =>
      typeof f === "string"
        ? {
            topic: f,
            qos: options.qos ?? 0,
            ...(this.#o.protocolVersion === 5
              ? {
                  noLocal: options.noLocal ?? false,
                  retainAsPublished: options.retainAsPublished ?? false,
                  retainHandling: options.retainHandling ?? 0,
                }
              : {}),
          }
        : f,
    );
    const properties = this.#o.protocolVersion === 5 ? options.properties : undefined;
    const packet = {
      type: "subscribe" as const,
      packetId: 1,
      subscriptions: list,
      ...(properties ? { properties } : {}),
    };
    encodePacket(packet, this.#o.protocolVersion); // validates filters and options first
    await this.#whenOnline();
    const codes = (await this.#exchange({ ...packet, packetId: this.#allocateId() }, "suback")) as number[];
    list.forEach((subscription, i) => {
      if ((codes[i] ?? 0x80) < 0x80)
        this.#subscriptions.set(subscription.topic, { subscription, ...(properties ? { properties } : {}) });
    });
    return codes;
  }

  /** Unsubscribes; resolves with MQTT 5 reason codes (empty on 3.1.1). */
  unsubscribe(filters: string | readonly string[]): Promise<number[]> {
    return this.#track(this.#unsubscribe(filters));
  }

  /** Operations end() lets finish: every publish/subscribe/unsubscribe begun before it. */
  #track<T>(operation: Promise<T>): Promise<T> {
    if (this.#ended) {
      operation.catch(() => {});
      return Promise.reject(this.#fatal ?? new ClosedError("the MQTT client was ended"));
    }
    this.#operations.add(operation);
    const forget = () => this.#operations.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  async #unsubscribe(filters: string | readonly string[]): Promise<number[]> {
    const topics = typeof filters === "string" ? [filters] : [...filters];
    encodePacket({ type: "unsubscribe", packetId: 1, topics }, this.#o.protocolVersion);
    await this.#whenOnline();
    // Not made again after a reconnection, whatever the broker answers.
    for (const topic of topics) this.#subscriptions.delete(topic);
    return (await this.#exchange(
      { type: "unsubscribe", packetId: this.#allocateId(), topics },
      "unsuback",
    )) as number[];
  }

  /** Calls `listener` for every message; returns the function that stops it. */
  onMessage(listener: (message: MqttMessage) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("onMessage expects a function");
    this.#listeners.add(listener);
    this.#listenerList = undefined;
    return () => {
      this.#listenerList = undefined;
      return this.#listeners.delete(listener);
    };
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
      for (const w of waiting.splice(0))
        error === undefined ? w.resolve({ done: true, value: undefined }) : w.reject(error);
    };
    const stop = this.onMessage((message) => {
      if (filter !== undefined && !topicMatches(filter, message.topic)) return;
      const waiter = waiting.shift();
      if (waiter) return waiter.resolve({ done: false, value: message });
      if (buffered.length >= this.#o.maxBufferedMessages) {
        return finish(
          new TooLargeError(
            `the reader fell more than ${this.#o.maxBufferedMessages} messages behind`,
            this.#o.maxBufferedMessages,
          ),
        );
      }
      buffered.push(message);
    });
    // The connection going away ends the iterator: cleanly after end(), with the reason otherwise.
    void this.closed.then(() => finish(this.#ended ? undefined : this.#fatal));
    const iterator: AsyncIterableIterator<MqttMessage> = {
      next: () => {
        if (buffered.length > 0) return Promise.resolve({ done: false, value: buffered.shift()! });
        if (ended)
          return failure === undefined ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(failure);
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
    if (this.#connacked && !this.#failure) {
      if (!(await settledWithin(Promise.allSettled([...this.#operations]), timeoutMs))) {
        stalled = new ClosedError(`end(): QoS flows still open after ${timeoutMs} ms`);
      }
      // DISCONNECT also when flows are still open at the deadline: the caller ended the client on
      // purpose, so the broker must not publish its will (those flows reject, below). A broker
      // that stopped reading must not hold end() on this write.
      if (!this.#fatal && this.#connacked && !this.#failure)
        await settledWithin(this.#send({ type: "disconnect" }), Math.min(timeoutMs, 1000));
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

  /** Connects, and with `reconnect` tries again after a backoff until it succeeds, is refused, or runs out of retries. */
  async #establish(firstDelayMs: number): Promise<ConnackInfo> {
    const reconnect = this.#o.reconnect;
    let delay = firstDelayMs;
    for (let failures = 0; ;) {
      if (delay > 0) await this.#backoff(delay);
      try {
        return await this.#open();
      } catch (error) {
        failures++;
        const refused =
          (error instanceof MqttReasonError && !RETRYABLE_CONNACK.has(error.reasonCode)) ||
          FINAL_ERRORS.has(error as object);
        if (
          !reconnect ||
          this.#ended ||
          this.#fatal ||
          refused ||
          error instanceof TypeError ||
          failures > reconnect.retries
        ) {
          this.#finish(error as Error);
          throw this.#fatal ?? error;
        }
        delay = backoffDelay(reconnect, failures);
      }
    }
  }

  /** Waits out a backoff; end() and destroy() cut it short. */
  #backoff(ms: number): Promise<void> {
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

  async #open(): Promise<ConnackInfo> {
    const o = this.#o;
    if (this.#fatal) throw this.#fatal;
    if (this.#ended) throw new ClosedError("the MQTT client was ended");
    // A fresh connection: nothing of the last one's state carries over.
    const generation = ++this.#generation;
    this.#failure = undefined;
    this.#connacked = false;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#batchWritten = undefined;
    this.#writing = false;
    this.#pingSentAt = 0;
    // Aliases name topics for one connection, both ways.
    this.#inboundAliases.clear();
    this.#outboundAliases.clear();
    this.#outboundAliasMax = 0;
    this.#connackSeen = false;
    this.#nextAuthExchange();
    this.#maxOutgoing = Infinity; // until this connection's CONNACK says otherwise
    const lost = (this.#lost = deferred());
    const deadline = new AbortController();
    this.#connectAbort = deadline;
    const giveUp = timer(o.connectTimeoutMs, () =>
      deadline.abort(new TimeoutError(`no CONNACK within ${o.connectTimeoutMs} ms`, o.connectTimeoutMs)),
    );
    giveUp.start();
    // Rejects when this attempt is given up (deadline, end(), destroy()): raced against each wait below.
    // It outlives the races (the attempt may be aborted later): its rejection is not unhandled.
    const aborted = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener("abort", () => reject(deadline.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    try {
      const password = await this.#password(deadline.signal, aborted);
      let socket: SocketLike;
      try {
        socket = await connectWithTimeout(
          o.connect,
          { hostname: o.hostname, port: o.port },
          o.tls ? { secureTransport: "on" } : undefined,
          {
            timeoutMs: o.connectTimeoutMs,
            signal: deadline.signal,
          },
        );
      } catch (cause) {
        throw asConnectError(cause, `${o.hostname}:${o.port}`, "connecting to the MQTT broker");
      }
      if (this.#failure || this.#fatal) {
        // destroy() or end() came while connecting: this socket is not wanted.
        await socket.close().catch(() => {});
        throw this.#failure ?? this.#fatal;
      }
      this.#socket = socket;
      this.#writer = socket.writable.getWriter();
      // Its failures reach us through write(); these two must not surface as unhandled.
      this.#writer.closed.catch(() => {});
      this.#writer.ready.catch(() => {});
      const connack = new Promise<MqttPacket>((resolve) => (this.#onConnack = resolve));
      void this.#readLoop(socket.readable.getReader(), generation);
      const will = o.will;
      await this.#send({
        type: "connect",
        protocolVersion: o.protocolVersion,
        clientId: o.clientId,
        clean: o.clean,
        keepalive: o.keepalive,
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(will
          ? {
              will: {
                topic: will.topic,
                payload: typeof will.payload === "string" ? new TextEncoder().encode(will.payload) : will.payload,
                qos: will.qos ?? 0,
                retain: will.retain ?? false,
                ...(will.properties ? { properties: will.properties } : {}),
              },
            }
          : {}),
        ...(o.protocolVersion === 5
          ? {
              properties: {
                ...(o.sessionExpiry ? { sessionExpiryInterval: o.sessionExpiry } : {}),
                maximumPacketSize: o.maxPacketSize,
                ...(o.topicAliasMaximum ? { topicAliasMaximum: o.topicAliasMaximum } : {}),
                ...(o.auth
                  ? { authenticationMethod: o.auth.method, ...(o.auth.data ? { authenticationData: o.auth.data } : {}) }
                  : {}),
              },
            }
          : {}),
      });
      const closedEarly = lost.promise.then(() => {
        throw this.#failure ?? new ClosedError("the broker closed the connection before CONNACK");
      });
      closedEarly.catch(() => {}); // as `aborted`: the connection may be lost after the race
      const packet = (await Promise.race([connack, aborted, closedEarly])) as MqttPacket & { type: "connack" };
      if (packet.reasonCode !== 0) {
        const text =
          o.protocolVersion === 4
            ? (CONNACK_V4[packet.reasonCode] ?? "refused")
            : (packet.properties?.reasonString ?? "refused");
        throw new MqttReasonError(
          `the broker refused the connection: ${text} (0x${packet.reasonCode.toString(16)})`,
          packet.reasonCode,
        );
      }
      this.#window = Math.min(o.maxInFlight, packet.properties?.receiveMaximum ?? 65535);
      this.#maxOutgoing = packet.properties?.maximumPacketSize ?? Infinity;
      this.#maximumQoS = (packet.properties?.maximumQoS ?? 2) as QoS;
      this.#retainAvailable = packet.properties?.retainAvailable !== 0;
      if (o.autoTopicAlias) this.#outboundAliasMax = packet.properties?.topicAliasMaximum ?? 0;
      const keepalive = packet.properties?.serverKeepAlive ?? o.keepalive;
      if (keepalive > 0) this.#startKeepalive(keepalive * 1000);
      // A store that never answers must not hold the connection past its deadline, nor past its loss.
      const resuming = this.#resume(packet.sessionPresent, generation);
      resuming.catch(() => {}); // observed by the race, or outlived by it
      const resubscribed = await Promise.race([resuming, aborted, closedEarly]);
      if (this.#failure || generation !== this.#generation)
        throw this.#failure ?? new ClosedError("the connection was replaced");
      this.#connacked = true;
      this.#upSince = Date.now();
      const reconnected = this.#everConnected;
      this.#everConnected = true;
      // Every flow goes out again on a new connection (subscriptions first, then oldest first,
      // within the receive maximum); a window that grew wakes its waiters.
      for (const id of resubscribed) this.#transmit(id);
      this.#pump();
      for (let free = this.#window - this.#inFlight; free > 0 && this.#windowWaiters.length > 0; free--)
        this.#windowWaiters.shift()!();
      this.#emit({
        type: "connected",
        sessionPresent: packet.sessionPresent,
        reconnected,
        ...(packet.properties ? { properties: packet.properties } : {}),
      });
      return { sessionPresent: packet.sessionPresent, ...(packet.properties ? { properties: packet.properties } : {}) };
    } catch (error) {
      this.#fail(error as Error);
      throw error;
    } finally {
      giveUp.cancel();
    }
  }

  /**
   * After CONNACK, before anything else is sent: what an earlier client left
   * in the store, and the session state the broker no longer has.
   */
  async #resume(sessionPresent: boolean, generation: number): Promise<number[]> {
    const store = this.#o.store;
    if (store && !this.#storeLoaded) {
      const stored = [...(await store.list())]; // read again on the next connection if this fails
      // A read that outlived its connection (given up at the deadline) must not touch the next one.
      if (generation !== this.#generation || this.#failure)
        throw this.#failure ?? new ClosedError("the connection was replaced");
      this.#storeLoaded = true;
      for (const packet of stored) {
        if (this.#flows.has(packet.packetId)) continue;
        // Nobody waits on these: their publish() was another client's. Each holds a window slot.
        const kind = packet.type === "pubrel" || packet.qos === 2 ? "qos2" : "qos1";
        this.#flows.set(packet.packetId, {
          resolve() {},
          reject() {},
          kind,
          packet,
          released: packet.type === "pubrel",
          sent: true,
          orphan: true,
        });
        this.#inFlight++;
      }
    }
    const resubscribed: number[] = [];
    if (!sessionPresent) {
      // (The broker forgot which QoS 2 messages it sent us: #onPacket cleared inboundQos2 at CONNACK.)
      // Nor does it have our unfinished flows (MQTT 5 §4.1: that state is discarded). A QoS 2
      // message past PUBREC may or may not have been delivered: its publish() says so rather than
      // guess. The others are published again as new messages (at least once).
      for (const [id, flow] of [...this.#flows]) {
        if (flow.resubscribe) this.#flows.delete(id);
        else if (flow.kind === "qos2" && flow.released) {
          this.#abandon(
            id,
            new ClosedError(
              "the broker lost the session after PUBREC: whether the QoS 2 message was delivered is unknown",
            ),
          );
        } else if (flow.packet.type === "publish") flow.sent = false;
      }
      if (this.#everConnected && this.#subscriptions.size > 0) {
        // Made again in one SUBSCRIBE per set of properties, sent ahead of everything else.
        const groups = new Map<MqttProperties | undefined, Subscription[]>();
        for (const { subscription, properties } of this.#subscriptions.values()) {
          const group = groups.get(properties) ?? [];
          group.push(subscription);
          groups.set(properties, group);
        }
        for (const [properties, subscriptions] of groups) {
          const packetId = this.#allocateId();
          this.#flows.set(packetId, {
            resolve() {},
            reject() {},
            kind: "suback",
            packet: { type: "subscribe", packetId, subscriptions, ...(properties ? { properties } : {}) },
            sent: false,
            resubscribe: true,
          });
          resubscribed.push(packetId);
        }
      }
    }
    return resubscribed;
  }

  #emit(event: MqttConnectionEvent): void {
    this.#report(this.#connectionListeners, event);
  }

  /** Calls each listener; one that throws is reported as an uncaught error and stops no other. */
  #report<T>(listeners: Set<(value: T) => void>, event: T): void {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** This attempt's password: the option, or what its function gives now (credentials that expire). */
  async #password(signal: AbortSignal, aborted: Promise<never>): Promise<Uint8Array | undefined> {
    const option = this.#o.password;
    if (typeof option !== "function") return typeof option === "string" ? new TextEncoder().encode(option) : option;
    let value: unknown;
    try {
      value = await Promise.race([Promise.resolve({ signal }).then(option), aborted]);
    } catch (cause) {
      if (signal.aborted && cause === signal.reason) {
        // The deadline's own message speaks of CONNACK; no socket was opened yet.
        if (cause instanceof TimeoutError)
          throw new TimeoutError(
            `the password function did not answer within ${this.#o.connectTimeoutMs} ms`,
            this.#o.connectTimeoutMs,
          );
        throw cause;
      }
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new ConnectError(`${this.#o.hostname}:${this.#o.port}`, `the password function failed: ${detail}`, {
        cause,
      });
    }
    if (typeof value === "string") return new TextEncoder().encode(value);
    if (value instanceof Uint8Array) return value;
    throw new TypeError("the password function must return (or resolve to) a string or a Uint8Array"); // never retried, as a TypeError
  }

  async #readLoop(reader: ReadableStreamDefaultReader<Uint8Array>, generation: number): Promise<void> {
    const current = () => generation === this.#generation && !this.#failure;
    const decoder = new MqttDecoder({
      version: this.#o.protocolVersion,
      maxPacketSize: this.#o.maxPacketSize,
      onPacket: (p) => {
        // Nothing after the connection failed (a final DISCONNECT, a protocol error) reaches the application.
        if (generation === this.#generation && !this.#failure) this.#onPacket(p);
      },
    });
    try {
      for (;;) {
        // A broker that floods us while not reading our acknowledgements must not grow our
        // memory: past the backlog, stop reading until the acknowledgements are written.
        while (this.#batchBytes > MAX_OUTPUT_BACKLOG && this.#batchWritten && current()) {
          await this.#batchWritten.promise.catch(() => {});
        }
        const { done, value } = await reader.read();
        if (done) break;
        if (!current()) return;
        this.#lastReceived = Date.now();
        decoder.feed(value);
        if (!current()) return;
      }
      if (generation === this.#generation) this.#fail(new ClosedError("the broker closed the connection"));
    } catch (error) {
      if (generation !== this.#generation) return;
      if (
        error instanceof MqttProtocolError ||
        (isSockkitError(error, "ETOOLARGE") && "reasonCode" in (error as object))
      ) {
        // Tell an MQTT 5 broker why before closing (§4.13).
        const reasonCode = (error as unknown as { reasonCode: number }).reasonCode;
        if (this.#o.protocolVersion === 5) await this.#send({ type: "disconnect", reasonCode }).catch(() => {});
      }
      if (generation === this.#generation) this.#fail(this.#failure ?? (error as Error));
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // a read still pending (workerd): the socket is closing anyway
      }
    }
  }

  #onPacket(packet: MqttPacket): void {
    // A message flow's packets first, outside the large switch (see decodeBody in codec.ts: V8
    // optimizes a long function late, and this one ran once per message).
    if (packet.type === "publish")
      return this.#onPublish(
        packet.properties?.topicAlias === undefined ? packet : this.#unalias(packet, packet.properties.topicAlias),
      );
    if (packet.type === "puback" || packet.type === "pubcomp")
      return this.#settle(packet.packetId, packet.reasonCode, undefined, packet.type);
    this.#onControlPacket(packet);
  }

  #onControlPacket(packet: Exclude<MqttPacket, { type: "publish" | "puback" | "pubcomp" }>): void {
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
          if (!packet.sessionPresent) this.#inboundQos2.clear();
          this.#connackSeen = true;
          this.#nextAuthExchange(); // a challenge still being answered belongs to the exchange that just ended
        }
        this.#onConnack(packet);
        this.#onConnack = undefined;
        return;
      case "pubrec": {
        const flow = this.#flows.get(packet.packetId);
        if (flow && flow.kind !== "qos2")
          throw new MqttProtocolError(`PUBREC for packet ${packet.packetId}, which is not a QoS 2 message`, 0x82);
        if (packet.reasonCode !== undefined && packet.reasonCode >= 0x80)
          return this.#settle(packet.packetId, packet.reasonCode, undefined, "pubrec");
        if (!flow) {
          // Not ours (any more): release it so the broker can forget it too.
          void this.#send({ type: "pubrel", packetId: packet.packetId }).catch(() => {});
          return;
        }
        flow.released = true;
        const id = packet.packetId;
        const pubrel = { type: "pubrel" as const, packetId: id };
        const release = () => {
          if (this.#flows.get(id) !== flow) return;
          // On this connection PUBREL answers PUBREC now; a newer connection sends it as a resend.
          if (flow.generation === this.#generation) void this.#send(pubrel).catch(() => {});
          else this.#pump();
        };
        // The store learns of PUBREC before the broker gets PUBREL: after a restart, only PUBREL is
        // sent again. A store that fails here leaves the PUBLISH saved: a duplicate after a restart
        // at worst, while the broker, which holds the message, still gets its PUBREL.
        let saved: void | Promise<void>;
        try {
          saved = this.#o.store?.put(pubrel);
        } catch {
          saved = undefined;
        }
        if (saved && typeof saved.then === "function") {
          const saving: Promise<void> = saved
            .then(
              () => undefined,
              () => undefined,
            )
            .then(() => {
              if (flow.saving === saving) flow.saving = undefined;
              release();
            });
          flow.saving = saving;
        } else release();
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
      case "disconnect": {
        const error = new MqttReasonError(
          `the broker disconnected: reason 0x${(packet.reasonCode ?? 0).toString(16)}${packet.properties?.reasonString ? ` (${packet.properties.reasonString})` : ""}`,
          packet.reasonCode ?? 0,
        );
        if (FINAL_DISCONNECT.has(packet.reasonCode ?? 0)) this.#finish(error);
        else this.#fail(error);
        return;
      }
      case "auth":
        return this.#onAuth(packet);
      default:
        throw new MqttProtocolError(`a client does not expect ${packet.type.toUpperCase()}`, 0x82);
    }
  }

  /**
   * Starts a re-authentication (MQTT 5 enhanced authentication, §4.12.1): AUTH 0x19 with `data`
   * (default: the `auth.data` option), each challenge answered by `auth.challenge`. Resolves with
   * the broker's final data (to verify) when its AUTH says success; a broker that refuses
   * disconnects, and this rejects with why. Unfinished after `connectTimeoutMs`, the connection is
   * closed and this rejects with `ETIMEDOUT`.
   */
  reauthenticate(data?: Uint8Array): Promise<Uint8Array | undefined> {
    const auth = this.#o.auth;
    if (!auth)
      return Promise.reject(new TypeError("reauthenticate() needs the auth option (MQTT 5 enhanced authentication)"));
    if (data !== undefined && !(data instanceof Uint8Array))
      return Promise.reject(new TypeError("reauthenticate() data must be a Uint8Array"));
    if (this.#ended || this.#fatal) return Promise.reject(new ClosedError("the MQTT client was ended"));
    if (!this.connected) return Promise.reject(new ClosedError("reauthenticate() needs a live connection"));
    if (this.#reauthenticating) return Promise.reject(new TypeError("a re-authentication is already under way"));
    const generation = this.#generation;
    // A broker that never finishes the exchange leaves the connection in an unknown state: after
    // connectTimeoutMs it is closed (and reconnected, with reconnect) and this rejects ETIMEDOUT.
    const ms = this.#o.connectTimeoutMs;
    const deadline = timer(ms, () => {
      if (generation === this.#generation)
        this.#fail(new TimeoutError(`no end to the re-authentication within ${ms} ms`, ms));
    });
    const done = deferred<Uint8Array | undefined>();
    this.#reauthenticating = { ...done, generation, deadline };
    this.#nextAuthExchange();
    deadline.start();
    const payload = data ?? auth.data;
    this.#send({
      type: "auth",
      reasonCode: 0x19,
      properties: { authenticationMethod: auth.method, ...(payload ? { authenticationData: payload } : {}) },
    }).catch((error: unknown) => this.#endReauthentication(generation, error));
    return done.promise;
  }

  /** A new exchange: answers still being worked out for the last one are dropped and wait for nothing. */
  #nextAuthExchange(): void {
    this.#authExchange++;
    this.#authTurn = Promise.resolve();
  }

  /** Settles the re-authentication of connection `generation`: with the broker's final data, or an error. */
  #endReauthentication(generation: number, error?: unknown, data?: Uint8Array): void {
    const pending = this.#reauthenticating;
    if (!pending || pending.generation !== generation) return;
    this.#reauthenticating = undefined;
    this.#nextAuthExchange();
    pending.deadline.cancel();
    if (error === undefined) pending.resolve(data);
    else pending.reject(error);
  }

  /** The broker's AUTH: the next step of enhanced authentication, or a re-authentication's end. */
  #onAuth(packet: AuthPacket): void {
    const auth = this.#o.auth;
    // §4.12: a broker must not send AUTH to a client that named no method, nor switch methods.
    if (!auth)
      throw new MqttProtocolError("the broker sent AUTH, but this client asked for no enhanced authentication", 0x82);
    if (packet.properties?.authenticationMethod !== auth.method) {
      throw finalError(
        new MqttProtocolError(
          `the broker's AUTH names method ${JSON.stringify(packet.properties?.authenticationMethod)}, not ${JSON.stringify(auth.method)}`,
          0x82,
        ),
      );
    }
    // After CONNACK only the client starts an exchange (§4.12.1): the broker continues one under way.
    const reauthenticating = this.#connackSeen;
    if (reauthenticating && !this.#reauthenticating)
      throw new MqttProtocolError("the broker sent AUTH after CONNACK with no re-authentication under way", 0x82);
    if (packet.reasonCode === 0x00) {
      // Success ends a re-authentication; before CONNACK, success comes as the CONNACK itself.
      if (!reauthenticating) throw new MqttProtocolError("the broker's AUTH says success before CONNACK", 0x82);
      this.#endReauthentication(this.#generation, undefined, packet.properties?.authenticationData);
      return;
    }
    if (packet.reasonCode !== 0x18)
      throw new MqttProtocolError(
        `the broker's AUTH has reason 0x${packet.reasonCode.toString(16)}; a broker may only continue (0x18) or succeed (0x00)`,
        0x82,
      );
    const challenge = auth.challenge;
    if (!challenge)
      throw finalError(
        new MqttProtocolError(
          `the broker continues authentication (method ${auth.method}) and auth.challenge is not set to answer it`,
          0x80,
        ),
      );
    const generation = this.#generation;
    const exchange = this.#authExchange;
    const live = () => generation === this.#generation && !this.#failure && exchange === this.#authExchange;
    const data = packet.properties?.authenticationData;
    // The exchange cannot go on: tell the broker (DISCONNECT 0x80), then close with why.
    const abandon = async (what: string, cause: unknown) => {
      if (generation !== this.#generation || this.#failure) return;
      await this.#send({ type: "disconnect", reasonCode: 0x80 }).catch(() => {});
      if (generation === this.#generation)
        this.#fail(
          new ClosedError(
            `enhanced authentication (${auth.method}): ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
            { cause },
          ),
        );
    };
    // One answer at a time, in the order the challenges came; none once its exchange is over.
    this.#authTurn = this.#authTurn.then(async () => {
      if (!live()) return;
      let answer: Uint8Array;
      try {
        answer = await challenge(data, { reauthenticating });
        if (!(answer instanceof Uint8Array))
          throw new TypeError("auth.challenge must return (or resolve to) a Uint8Array");
      } catch (cause) {
        if (live()) await abandon("auth.challenge failed", cause);
        return;
      }
      if (!live()) return;
      // An answer that cannot be encoded or is over the broker's limit ends the exchange too.
      await this.#send({
        type: "auth",
        reasonCode: 0x18,
        properties: { authenticationMethod: auth.method, authenticationData: answer },
      }).catch((cause: unknown) => abandon("the answer could not be sent", cause));
    });
  }

  /** An inbound PUBLISH with a topic alias, as the same message with its topic (§3.3.2.3.4). */
  #unalias(packet: PublishPacket, alias: number): PublishPacket {
    if (alias === 0 || alias > this.#o.topicAliasMaximum) {
      throw new MqttProtocolError(
        `the broker used topic alias ${alias}, outside the ${this.#o.topicAliasMaximum} this client allows (topicAliasMaximum)`,
        0x94,
      );
    }
    if (packet.topic !== "") {
      this.#inboundAliases.set(alias, packet.topic);
      return packet;
    }
    const topic = this.#inboundAliases.get(alias);
    if (topic === undefined)
      throw new MqttProtocolError(
        `the broker sent a PUBLISH by topic alias ${alias}, which this connection never set`,
        0x82,
      );
    return { ...packet, topic };
  }

  #onPublish(packet: PublishPacket): void {
    const { qos, packetId } = packet;
    if (qos === 2) {
      // Exactly once: deliver on the first PUBLISH with this id, only acknowledge a repeat.
      // A repeat is the same message: brokers resend without DUP (Aedes), and after a restart
      // reuse an id whose PUBREL never came (Mosquitto); by DUP or id alone one of them would
      // lose or duplicate messages. The bytes are compared only when an id is still held.
      const held = this.#inboundQos2.get(packetId!);
      if (held === undefined || !sameMessage(held, packet)) {
        this.#inboundQos2.set(packetId!, packet);
        this.#deliver(packet);
      }
      void this.#send({ type: "pubrec", packetId: packetId! }).catch(() => {});
      return;
    }
    this.#deliver(packet);
    if (qos === 1) void this.#send({ type: "puback", packetId: packetId! }).catch(() => {});
  }

  #deliver(packet: PublishPacket): void {
    const message = new Message(packet);
    // A snapshot, so that a listener added while a message is delivered does not get it; kept
    // until the listeners change rather than copied for every message.
    const listeners = (this.#listenerList ??= [...this.#listeners]);
    for (const listener of listeners) {
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

  #settle(
    packetId: number,
    reasonCode: number | undefined,
    value: unknown,
    ack: "puback" | "pubcomp" | "pubrec" | "suback" | "unsuback",
  ): void {
    const flow = this.#flows.get(packetId);
    if (!flow) return; // an acknowledgement for nothing we sent: ignore, as brokers resend
    const fits =
      ack === flow.kind ||
      (ack === "puback" && flow.kind === "qos1") ||
      (ack === "pubrec" && flow.kind === "qos2") ||
      (ack === "pubcomp" && flow.kind === "qos2" && flow.released === true);
    if (!fits)
      throw new MqttProtocolError(`${ack.toUpperCase()} for packet ${packetId}, which awaits something else`, 0x82);
    this.#flows.delete(packetId);
    this.#forget(flow, packetId);
    if (reasonCode !== undefined && reasonCode >= 0x80)
      flow.reject(new MqttReasonError(`the broker refused: reason 0x${reasonCode.toString(16)}`, reasonCode));
    else flow.resolve(value);
    if (this.#backlog) this.#pump();
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
      if (this.#fatal) throw this.#fatal;
      const reconnect = this.#o.reconnect;
      if (reconnect && !this.connected && this.#windowWaiters.length >= reconnect.maxOfflineMessages) {
        throw new ClosedError(
          `MQTT is reconnecting and ${reconnect.maxOfflineMessages} messages are already waiting (maxOfflineMessages)`,
        );
      }
      await new Promise<void>((resolve) => this.#windowWaiters.push(resolve));
    }
    if (this.#fatal) throw this.#fatal;
    this.#inFlight++;
    // A slot may be left for the next waiter too (a window that grew).
    if (this.#inFlight < this.#window) this.#windowWaiters.shift()?.();
  }

  #releaseWindow(): void {
    this.#inFlight--;
    // Only a free slot wakes a waiter (store-loaded messages or a smaller receive maximum can
    // keep the window over-full), so waiters go out in the order they came.
    if (this.#inFlight < this.#window) this.#windowWaiters.shift()?.();
  }

  /**
   * Queues a packet; packets queued in the same tick go out in one write
   * (while a write is in flight the next batch grows). Resolves when its
   * batch is written, so callers wait while the socket is backed up.
   */
  #send(packet: MqttPacket): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    let bytes: Uint8Array;
    let naming: string | undefined; // a topic this packet gives an alias to, once it is sure to go out
    try {
      if (this.#outboundAliasMax > 0 && packet.type === "publish") ({ packet, naming } = this.#aliased(packet));
      bytes = encodePacket(packet, this.#o.protocolVersion);
    } catch (error) {
      return Promise.reject(error);
    }
    if (bytes.length > this.#maxOutgoing) {
      return Promise.reject(
        new TooLargeError(
          `a ${bytes.length}-byte packet is over the broker's maximum packet size of ${this.#maxOutgoing}`,
          this.#maxOutgoing,
        ),
      );
    }
    if (naming !== undefined) this.#outboundAliases.set(naming, this.#outboundAliases.size + 1);
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

  /**
   * autoTopicAlias: the packet as it goes on the wire. Aliases are given here, in the order
   * packets are written, so the broker always learns an alias before it is used alone.
   */
  #aliased(packet: PublishPacket): { packet: PublishPacket; naming?: string } {
    if (packet.topic === "") return { packet }; // no topic to name: the encoder refuses it
    const alias = this.#outboundAliases.get(packet.topic);
    if (alias !== undefined)
      return { packet: { ...packet, topic: "", properties: { ...packet.properties, topicAlias: alias } } };
    if (this.#outboundAliases.size >= this.#outboundAliasMax) return { packet };
    // The next alias; #send records it only if the packet is written.
    return {
      packet: { ...packet, properties: { ...packet.properties, topicAlias: this.#outboundAliases.size + 1 } },
      naming: packet.topic,
    };
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#writing || this.#batch.length === 0) return;
    const parts = this.#batch;
    const out = concat(parts, this.#batchBytes);
    const written = this.#batchWritten!;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#batchWritten = undefined;
    const writer = this.#writer;
    if (this.#failure || !writer) {
      written.reject(this.#failure ?? new ClosedError("the MQTT connection is not open"));
      return;
    }
    this.#writing = true;
    this.#writingBatch = written;
    writer.write(out).then(
      () => {
        if (this.#writingBatch === written) this.#writingBatch = undefined;
        written.resolve();
        if (writer !== this.#writer) return; // an old connection's write
        this.#writing = false;
        if (this.#batch.length > 0) this.#flush();
      },
      (error: unknown) => {
        if (this.#writingBatch === written) this.#writingBatch = undefined;
        const failure = new ClosedError("writing to the MQTT broker failed", { cause: error });
        written.reject(failure);
        if (writer !== this.#writer) return;
        this.#writing = false;
        this.#fail(failure);
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

  /**
   * The current connection failed. With `reconnect` (and not ending) the
   * client keeps its flows and connects again; otherwise it is finished.
   */
  #fail(error: Error, graceful = false): void {
    if (this.#failure) return;
    this.#failure = error;
    const wasUp = this.#connacked;
    this.#connacked = false;
    this.#backlog = false;
    this.#connectAbort?.abort(error); // a connection still being made stops now
    // QoS 0 messages not yet written are lost: their publish() says so, also for a write in progress
    // (a broker that stopped reading would otherwise hold it forever).
    this.#batchWritten?.reject(error);
    this.#batchWritten = undefined;
    this.#writingBatch?.reject(error);
    this.#writingBatch = undefined;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#keepalive?.cancel();
    this.#onConnack = undefined;
    this.#lost?.resolve();
    this.#endReauthentication(this.#generation, error); // the broker's refusal, or the lost connection
    const socket = this.#socket;
    const writer = this.#writer;
    this.#socket = undefined;
    this.#writer = undefined;
    // close() flushes first (Node's adapter waits for the peer to take the bytes): a broker that
    // stopped reading gets a second after end()'s DISCONNECT, and a failed connection 50 ms,
    // before the write side is aborted. (Aborting first would leave workerd's socket open.)
    const hardClose = () => void writer?.abort(error).catch(() => {});
    const flushing = socket ? timer(graceful ? 1000 : 50, hardClose) : undefined;
    flushing?.start();
    this.#socketClosed = socket
      ? socket
          .close()
          .catch(() => {})
          .finally(() => flushing?.cancel())
      : Promise.resolve();
    if (this.#o.reconnect && !this.#ended && !this.#fatal) {
      if (wasUp) {
        this.#emit({ type: "disconnected", error, willReconnect: true });
        if (this.#ended || this.#fatal) return; // a listener ended or destroyed the client
        const quick = Date.now() - this.#upSince < this.#o.reconnect.maxDelayMs;
        this.#quickLosses = quick ? this.#quickLosses + 1 : 0;
        this.#connecting = this.#establish(backoffDelay(this.#o.reconnect, Math.max(0, this.#quickLosses - 1)));
        this.#connecting.catch(() => {}); // its failure finishes the client, which everyone waiting sees
      }
      // Not yet up: #establish is deciding whether to try again.
      return;
    }
    this.#finish(error);
  }

  /** The client is finished: every flow and waiter gets `error`, and `closed` resolves once the socket is closed. */
  #finish(error: Error, graceful = false): void {
    if (this.#fatal) return;
    const wasUp = this.#connacked && !this.#failure;
    this.#fatal = error;
    this.#wakeBackoff?.(error);
    if (!this.#failure) this.#fail(error, graceful);
    for (const [id, flow] of this.#flows) {
      // A store keeps its messages for the next client with this id; only memory is cleared.
      if (!this.#o.store) this.#forget(flow, id);
      flow.reject(error);
    }
    this.#flows.clear();
    for (const wake of this.#windowWaiters.splice(0)) wake();
    if (wasUp || this.#everConnected) this.#emit({ type: "disconnected", error, willReconnect: false });
    void this.#socketClosed.then(() => this.#closedResolve());
  }
}

function sameMessage(a: PublishPacket, b: PublishPacket): boolean {
  if (a.topic !== b.topic || a.payload.length !== b.payload.length) return false;
  for (let i = 0; i < a.payload.length; i++) if (a.payload[i] !== b.payload[i]) return false;
  return true;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a fire-and-forget acknowledgement's failure is reported through the connection
  return { promise, resolve, reject };
}

/** Creates a client. Nothing connects until `connect()` or the first publish or subscribe. */
export function createMqttClient(options: MqttClientOptions): MqttClient {
  if (typeof options !== "object" || options === null)
    throw new TypeError("createMqttClient() expects an options object");
  if (typeof options.connect !== "function")
    throw new TypeError("createMqttClient() needs a connect function (from cloudflare:sockets or an adapter)");
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
    if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:")
      throw new TypeError(`unsupported MQTT URL scheme "${url.protocol}" (expected mqtt: or mqtts:)`);
    tls = url.protocol === "mqtts:";
    hostname = url.hostname.replace(/^\[|\]$/g, "");
    port = url.port === "" ? (tls ? 8883 : 1883) : Number(url.port);
    username = url.username === "" ? undefined : decodeURIComponent(url.username);
    password = url.password === "" ? undefined : decodeURIComponent(url.password);
  }
  if (options.address !== undefined) ({ hostname, port } = parseSocketAddress(options.address));
  const protocolVersion = options.protocolVersion ?? 4;
  if (protocolVersion !== 4 && protocolVersion !== 5)
    throw new TypeError(`protocolVersion must be 4 (MQTT 3.1.1) or 5, got ${String(protocolVersion)}`);
  if (
    options.store !== undefined &&
    (typeof options.store !== "object" ||
      options.store === null ||
      ["put", "delete", "list"].some(
        (m) => typeof (options.store as unknown as Record<string, unknown>)[m] !== "function",
      ))
  ) {
    throw new TypeError("store must have put(), delete() and list() methods");
  }
  const keepalive = options.keepalive ?? 60;
  if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535)
    throw new TypeError(`keepalive must be an integer number of seconds from 0 to 65535, got ${String(keepalive)}`);
  const topicAliasMaximum = options.topicAliasMaximum ?? 0;
  if (!Number.isInteger(topicAliasMaximum) || topicAliasMaximum < 0 || topicAliasMaximum > 65535)
    throw new TypeError(`topicAliasMaximum must be an integer from 0 to 65535, got ${String(topicAliasMaximum)}`);
  if (options.auth !== undefined) {
    const auth = options.auth as Partial<MqttAuthOptions> | null;
    if (protocolVersion !== 5) throw new TypeError("auth (enhanced authentication) needs protocolVersion 5");
    if (typeof auth !== "object" || auth === null || typeof auth.method !== "string" || auth.method === "")
      throw new TypeError("auth.method must be a non-empty string");
    if (auth.data !== undefined && !(auth.data instanceof Uint8Array))
      throw new TypeError("auth.data must be a Uint8Array");
    if (auth.challenge !== undefined && typeof auth.challenge !== "function")
      throw new TypeError("auth.challenge must be a function");
  }
  if (
    options.password !== undefined &&
    typeof options.password !== "string" &&
    typeof options.password !== "function" &&
    !(options.password instanceof Uint8Array)
  ) {
    throw new TypeError("password must be a string, a Uint8Array or a function that returns one");
  }
  if (
    protocolVersion === 4 &&
    (options.password ?? password) !== undefined &&
    (options.username ?? username) === undefined
  ) {
    throw new TypeError("MQTT 3.1.1 sends a password only with a username");
  }
  if (options.autoTopicAlias !== undefined && typeof options.autoTopicAlias !== "boolean")
    throw new TypeError(`autoTopicAlias must be a boolean, got ${String(options.autoTopicAlias)}`);
  if (protocolVersion !== 5 && (topicAliasMaximum > 0 || options.autoTopicAlias))
    throw new TypeError("topic aliases (topicAliasMaximum, autoTopicAlias) need protocolVersion 5");
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
    topicAliasMaximum,
    autoTopicAlias: options.autoTopicAlias ?? false,
    reconnect:
      options.reconnect === undefined || options.reconnect === false
        ? undefined
        : reconnectSettings(options.reconnect, "maxOfflineMessages"),
  });
}

// A class, not an object literal with a getter: a literal with an accessor and a
// conditional spread took about a tenth of a publish→receive round trip's CPU.
class Message implements MqttMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  declare readonly properties?: MqttProperties;
  constructor(packet: PublishPacket) {
    this.topic = packet.topic;
    this.payload = packet.payload;
    this.qos = packet.qos;
    this.retain = packet.retain;
    this.dup = packet.dup;
    if (packet.properties) (this as { properties?: MqttProperties }).properties = packet.properties;
  }
  get text(): string {
    // A leading U+FEFF is payload, not a byte-order mark (MQTT.js's payload.toString() keeps it too).
    return decodeUtf8(this.payload, 0, this.payload.length);
  }
}
