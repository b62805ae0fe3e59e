import { BatchedWriter } from "../batched-writer.js";
import { deferred } from "../deferred.js";
import { ClosedError, TooLargeError, isSockkitError } from "../errors.js";
import { readLoop } from "../read-loop.js";
import { settledWithin, timer } from "../timer.js";
import type { SocketLike } from "../types.js";
import { MqttDecoder, MqttProtocolError, encodePacket } from "./codec.js";
import { Keepalive } from "./keepalive.js";
import type { MqttPacket, ProtocolVersion, PublishPacket, QoS } from "./packets.js";
import { MqttReasonError } from "./reason.js";
import { TopicAliasReceive, TopicAliasSend } from "./topic-alias.js";

/** Bytes of queued output (acknowledgements, mostly) past which a connection stops reading. */
const MAX_OUTPUT_BACKLOG = 1024 * 1024;

export interface MqttConnectionOptions {
  version: ProtocolVersion;
  /** Largest packet accepted from the broker. */
  maxPacketSize: number;
  /** Topic aliases the broker may use (the client's `topicAliasMaximum`). */
  topicAliasMaximum: number;
  /** Each packet read, while the connection has not failed (PINGRESP is handled here). */
  onPacket(packet: MqttPacket, connection: MqttConnection): void;
  /** Once, when the connection fails or is closed, with why. */
  onFailed(connection: MqttConnection, error: Error): void;
}

/** What the broker's CONNACK says this connection accepts (MQTT 3.1.1 brokers accept everything). */
export interface BrokerLimits {
  /** QoS 1/2 messages unacknowledged at once: the client's maxInFlight, lowered by the broker's receive maximum. */
  window: number;
  maximumQoS: QoS;
  retainAvailable: boolean;
  /** The broker's topicAliasMaximum (0: none). */
  topicAliasMaximum: number;
  /** Largest packet the broker takes. */
  maximumPacketSize: number;
  /** The client gives aliases itself (autoTopicAlias). */
  autoTopicAlias: boolean;
}

const BEFORE_CONNACK: BrokerLimits = {
  window: 0,
  maximumQoS: 2,
  retainAvailable: true,
  topicAliasMaximum: 0,
  maximumPacketSize: Infinity,
  autoTopicAlias: false,
};

/**
 * One connection to a broker, for as long as its socket lives: batched writes, the read loop (which
 * stops reading while the client's own output is backed up), keepalive, and the topic aliases of
 * this connection both ways. A reconnection makes a new one, so nothing of an old connection's
 * state (or a late packet of it) can reach the next.
 */
export class MqttConnection {
  readonly #socket: SocketLike;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #out: BatchedWriter;
  readonly #options: MqttConnectionOptions;
  readonly #closed = deferred();
  readonly #aliasReceive: TopicAliasReceive;
  #aliasSend: TopicAliasSend | undefined;
  #keepalive: Keepalive | undefined;
  #failure: Error | undefined;
  #limits: BrokerLimits = BEFORE_CONNACK;
  /** The broker's CONNACK accepted this connection (set as it is read, before the session resumes). */
  accepted = false;
  lastSent = Date.now();
  lastReceived = Date.now();

  constructor(socket: SocketLike, options: MqttConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#aliasReceive = new TopicAliasReceive(options.topicAliasMaximum);
    this.#writer = socket.writable.getWriter();
    this.#out = new BatchedWriter(this.#writer, (cause) =>
      this.fail(new ClosedError("writing to the MQTT broker failed", { cause })),
    );
    void this.#read(socket.readable.getReader());
  }

  /** Why the connection failed, once it has. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Settles once the socket is closed (after {@link fail}). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  get limits(): BrokerLimits {
    return this.#limits;
  }

  /** QoS 1/2 messages unacknowledged at once on this connection (see {@link BrokerLimits.window}). */
  get window(): number {
    return this.#limits.window;
  }

  /** After CONNACK: what the broker accepts, and keepalive (the broker's serverKeepAlive wins). */
  established(limits: BrokerLimits, keepaliveSeconds: number): void {
    this.#limits = limits;
    if (limits.autoTopicAlias && limits.topicAliasMaximum > 0)
      this.#aliasSend = new TopicAliasSend(limits.topicAliasMaximum);
    if (keepaliveSeconds > 0 && !this.#failure) {
      this.#keepalive = new Keepalive(keepaliveSeconds * 1000, this, {
        ping: () => this.write({ type: "pingreq" }),
        timedOut: (error) => this.fail(error),
      });
    }
  }

  /**
   * Why this broker would refuse `packet` (it would disconnect instead: MQTT-3.2.2-11, -14,
   * MQTT-3.3.2-8, -9), as the reason code it would use; nothing if it takes it.
   */
  refusal(packet: PublishPacket): MqttReasonError | undefined {
    const limits = this.#limits;
    if (packet.qos > limits.maximumQoS) {
      return new MqttReasonError(
        `the broker accepts QoS up to ${limits.maximumQoS} (its CONNACK's maximumQoS); this message asked for QoS ${packet.qos}`,
        0x9b,
      );
    }
    if (packet.retain && !limits.retainAvailable)
      return new MqttReasonError(
        "the broker does not keep retained messages (its CONNACK's retainAvailable is 0)",
        0x9a,
      );
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined && !limits.autoTopicAlias && alias > limits.topicAliasMaximum) {
      return new MqttReasonError(
        `topic alias ${alias} is over the broker's topicAliasMaximum (${limits.topicAliasMaximum}, from its CONNACK)`,
        0x94,
      );
    }
    return undefined;
  }

  /**
   * Queues a packet; packets queued in the same tick go out in one write (while a write is in
   * flight the next batch grows). Resolves when its batch is written, so callers wait while the
   * socket is backed up; rejects if it cannot be encoded, is over the broker's maximum packet size,
   * or the connection fails first.
   */
  send(packet: MqttPacket): Promise<void> {
    try {
      this.write(packet);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#out.written();
  }

  /**
   * Queues a packet without a promise for its write (acknowledgements, flows: a failed write fails
   * the connection, which they hear of anyway). Throws if the connection has failed, or if the
   * packet cannot be encoded or is over the broker's maximum packet size.
   */
  write(packet: MqttPacket): void {
    if (this.#failure) throw this.#failure;
    let naming: string | undefined; // a topic this packet gives an alias to, once it is sure to go out
    if (this.#aliasSend !== undefined && packet.type === "publish")
      ({ packet, naming } = this.#aliasSend.apply(packet));
    const bytes = encodePacket(packet, this.#options.version);
    const max = this.#limits.maximumPacketSize;
    if (bytes.length > max)
      throw new TooLargeError(`a ${bytes.length}-byte packet is over the broker's maximum packet size of ${max}`, max);
    if (naming !== undefined) this.#aliasSend!.commit(naming);
    this.lastSent = Date.now();
    this.#out.queue(bytes);
  }

  /**
   * Fails the connection: queued writes reject with `error`, keepalive stops, and the socket is
   * closed. close() flushes first (Node's adapter waits for the peer to take the bytes): a broker
   * that stopped reading gets a second after a graceful end's DISCONNECT, and a failed connection
   * 50 ms, before the write side is aborted (aborting first would leave workerd's socket open).
   */
  fail(error: Error, graceful = false): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#keepalive?.stop();
    this.#out.fail(error);
    const writer = this.#writer;
    const flushing = timer(graceful ? 1000 : 50, () => void writer.abort(error).catch(() => {}));
    flushing.start();
    this.#socket
      .close()
      .catch(() => {})
      .finally(() => {
        flushing.cancel();
        this.#closed.resolve();
      });
    this.#options.onFailed(this, error);
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new MqttDecoder({
      version: this.#options.version,
      maxPacketSize: this.#options.maxPacketSize,
      onPacket: (packet) => {
        // Nothing after the connection failed (a final DISCONNECT, a protocol error) reaches the client.
        if (this.#failure === undefined) this.#onPacket(packet);
      },
    });
    const out = this.#out;
    try {
      const ended = await readLoop(
        reader,
        (chunk) => {
          this.lastReceived = Date.now();
          decoder.feed(chunk);
        },
        () => this.#failure !== undefined,
        // A broker that floods us while not reading our acknowledgements must not grow our
        // memory: past the backlog, stop reading until the acknowledgements are written.
        () => (out.backlog > MAX_OUTPUT_BACKLOG ? out.drained() : undefined),
      );
      if (ended) this.fail(new ClosedError("the broker closed the connection"));
    } catch (error) {
      if (this.#failure) return;
      if (
        this.#options.version === 5 &&
        (error instanceof MqttProtocolError ||
          (isSockkitError(error, "ETOOLARGE") && "reasonCode" in (error as object)))
      ) {
        // Tell an MQTT 5 broker why before closing (§4.13); one that stopped reading gets a second.
        const reasonCode = (error as unknown as { reasonCode: number }).reasonCode;
        await settledWithin(this.send({ type: "disconnect", reasonCode }), 1000);
      }
      this.fail(this.#failure ?? (error as Error));
    }
  }

  #onPacket(packet: MqttPacket): void {
    if (packet.type === "publish") {
      const alias = packet.properties?.topicAlias;
      this.#options.onPacket(alias === undefined ? packet : this.#aliasReceive.resolve(packet, alias), this);
    } else if (packet.type === "pingresp") this.#keepalive?.pong();
    else this.#options.onPacket(packet, this);
  }
}
