import { parseSocketAddress } from "../address.js";
import { reconnectSettings, type BackoffOptions } from "../backoff.js";
import type { Connect, SocketAddress } from "../types.js";
import type { MqttProperties, ProtocolVersion, QoS } from "./packets.js";
import type { MqttReasonError } from "./reason.js";
import type { MqttStore } from "./store.js";

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
   * Outbound QoS 1/2 messages awaiting acknowledgement at once; the rest wait their turn, in
   * order. An MQTT 5 broker's `receiveMaximum` lowers it further. MQTT 3.1.1 brokers announce no
   * limit; none is known to cut a client for QoS 1 messages in flight (AWS IoT Core stops reading
   * past 100 until it has acknowledged some). The core README has the measurements behind the default.
   * @default 200
   */
  maxInFlight?: number;
  /**
   * Of `maxInFlight`, how many may be QoS 2 messages: a broker holds each one awaiting PUBREL, and
   * some cut a client that has too many (EMQX at its default `max_awaiting_rel` of 100, with
   * reason 0x93; Aedes at 1,000). A QoS 2 message waits for one of these slots, and the QoS 1/2
   * messages published after it wait behind it (QoS 0 ones go out at once).
   * @default 100
   */
  maxInFlightQoS2?: number;
  /**
   * MQTT 5: how many QoS 1 and 2 messages the broker may send this client before it acknowledges
   * them (told in CONNECT). A broker that goes past it is disconnected with reason 0x93 and the
   * connection fails with `EPROTOCOL`. The client acknowledges QoS 1 messages as they arrive, so
   * in practice this bounds the QoS 2 messages awaiting the broker's PUBREL.
   * @default 65535 (not sent)
   */
  receiveMaximum?: number;
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
export interface MqttSubscribeOptions {
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

/** The options with their defaults, checked (what the client's parts read). */
export type MqttSettings = Required<
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
    | "maxInFlightQoS2"
    | "receiveMaximum"
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

/** Checks `options` and fills in the defaults; bad options are a `TypeError`. */
export function mqttSettings(options: MqttClientOptions): MqttSettings {
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
  const maxInFlight = checkCount(options.maxInFlight, 200, "maxInFlight");
  const maxInFlightQoS2 = checkCount(options.maxInFlightQoS2, 100, "maxInFlightQoS2");
  const receiveMaximum = checkCount(options.receiveMaximum, 65535, "receiveMaximum");
  if (protocolVersion !== 5 && options.receiveMaximum !== undefined)
    throw new TypeError("receiveMaximum is told to the broker in MQTT 5 only: it needs protocolVersion 5");
  return {
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
    maxInFlight,
    maxInFlightQoS2,
    receiveMaximum,
    topicAliasMaximum,
    autoTopicAlias: options.autoTopicAlias ?? false,
    reconnect:
      options.reconnect === undefined || options.reconnect === false
        ? undefined
        : reconnectSettings(options.reconnect, "maxOfflineMessages"),
  };
}

function checkCount(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    throw new TypeError(`${name} must be an integer from 1 to 65535, got ${String(value)}`);
  return value;
}
