import { TooLargeError } from "../errors.js";
import { MqttProtocolError } from "./codec.js";
import { Message, sameMessage, type MqttMessage } from "./message.js";
import type { MqttPacket, PublishPacket } from "./packets.js";
import { topicMatches } from "./topic.js";

/** Where acknowledgements go: the connection a message came on. */
interface Replies {
  write(packet: MqttPacket): void;
  readonly failed: boolean;
}

/** An acknowledgement to a connection that may have failed (it reports its own failure). */
function reply(replies: Replies, packet: MqttPacket): void {
  if (!replies.failed) replies.write(packet);
}

/**
 * Messages the broker sends: delivered to the listeners, acknowledged, and QoS 2 ones delivered
 * exactly once (MQTT §4.3.3, method B: delivered at PUBLISH, the identifier held until PUBREL).
 */
export class Inbound {
  readonly #receiveMaximum: number;
  readonly #listeners = new Set<(message: MqttMessage) => void>();
  #listenerList: ((message: MqttMessage) => void)[] | undefined;
  /** Inbound QoS 2 messages delivered and awaiting PUBREL, by packet id. */
  readonly #qos2 = new Map<number, PublishPacket>();

  /** @param receiveMaximum QoS 2 messages that may await PUBREL at once (the client's `receiveMaximum`). */
  constructor(receiveMaximum: number) {
    this.#receiveMaximum = receiveMaximum;
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

  /** The broker has no session: it forgot which QoS 2 messages it sent us. */
  sessionLost(): void {
    this.#qos2.clear();
  }

  publish(packet: PublishPacket, replies: Replies): void {
    const { qos, packetId } = packet;
    if (qos === 2) {
      // Exactly once: deliver on the first PUBLISH with this id, only acknowledge a repeat.
      // A repeat is the same message: brokers resend without DUP (Aedes), and after a restart
      // reuse an id whose PUBREL never came (Mosquitto); by DUP or id alone one of them would
      // lose or duplicate messages. The bytes are compared only when an id is still held.
      const held = this.#qos2.get(packetId!);
      if (held === undefined || !sameMessage(held, packet)) {
        if (held === undefined && this.#qos2.size >= this.#receiveMaximum) {
          throw new MqttProtocolError(
            `the broker sent more than ${this.#receiveMaximum} QoS 2 messages awaiting PUBREL (the client's receiveMaximum)`,
            0x93,
          );
        }
        this.#qos2.set(packetId!, packet);
        this.#deliver(packet);
      }
      reply(replies, { type: "pubrec", packetId: packetId! });
      return;
    }
    this.#deliver(packet);
    if (qos === 1) reply(replies, { type: "puback", packetId: packetId! });
  }

  /** Inbound QoS 2, step two: the message was delivered at PUBLISH; now forget the id. */
  pubrel(packetId: number, replies: Replies): void {
    this.#qos2.delete(packetId);
    reply(replies, { type: "pubcomp", packetId });
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
}

/**
 * Messages as an async iterator (those matching `filter`, if given), ended by `ended` (with its
 * error, if any) or by breaking out of the loop. A reader more than `maxBuffered` behind gets
 * `ETOOLARGE`: nothing is dropped silently.
 */
export function messageIterator(
  inbound: Inbound,
  filter: string | undefined,
  maxBuffered: number,
  ended: Promise<unknown>,
): AsyncIterableIterator<MqttMessage> {
  const buffered: MqttMessage[] = [];
  const waiting: Array<{ resolve(r: IteratorResult<MqttMessage>): void; reject(e: unknown): void }> = [];
  let failure: unknown;
  let done = false;
  const finish = (error?: unknown) => {
    if (done) return;
    done = true;
    failure = error;
    stop();
    for (const w of waiting.splice(0))
      error === undefined ? w.resolve({ done: true, value: undefined }) : w.reject(error);
  };
  const stop = inbound.onMessage((message) => {
    if (filter !== undefined && !topicMatches(filter, message.topic)) return;
    const waiter = waiting.shift();
    if (waiter) return waiter.resolve({ done: false, value: message });
    if (buffered.length >= maxBuffered)
      return finish(new TooLargeError(`the reader fell more than ${maxBuffered} messages behind`, maxBuffered));
    buffered.push(message);
  });
  void ended.then(finish);
  const iterator: AsyncIterableIterator<MqttMessage> = {
    next: () => {
      if (buffered.length > 0) return Promise.resolve({ done: false, value: buffered.shift()! });
      if (done)
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
