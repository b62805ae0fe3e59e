import { ClosedError } from "../errors.js";
import { MqttProtocolError } from "./codec.js";
import type { MqttPacket, PublishPacket, SubscribePacket, UnsubscribePacket } from "./packets.js";
import type { MqttParkedMessage } from "./options.js";
import { MqttReasonError } from "./reason.js";
import type { MqttStore, StoredPacket } from "./store.js";

/** The connection flows are written on, as they see it (an `MqttConnection` after its CONNACK). */
export interface FlowLink {
  /** Queues a packet; throws if it cannot be sent (too large, the connection lost). */
  write(packet: MqttPacket): void;
  readonly failed: boolean;
  /** QoS 1/2 messages that may be unacknowledged at once on this connection. */
  readonly window: number;
  /** Why this connection's broker refuses the message, if it does (maximumQoS, retainAvailable, topic alias). */
  refusal(packet: PublishPacket): MqttReasonError | undefined;
}

export interface FlowsOptions {
  /** Where unacknowledged messages outlive the client. */
  store?: MqttStore;
  /** Flows outlive a lost connection and go out on the next (the client reconnects). */
  keep: boolean;
  /** Messages holding packet identifiers at once until a connection says how many its broker takes. */
  maxInFlight: number;
  /** Of those, QoS 2 messages (a broker holds each awaiting PUBREL: EMQX allows 100 by default). */
  maxInFlightQoS2: number;
  onParked(parked: MqttParkedMessage): void;
}

type Kind = "qos1" | "qos2" | "suback" | "unsuback";
type Ack = "puback" | "pubrec" | "pubcomp" | "suback" | "unsuback";

interface Flow {
  readonly id: number;
  readonly kind: Kind;
  /** What to send (again): the PUBLISH, SUBSCRIBE or UNSUBSCRIBE. */
  packet: MqttPacket & { packetId: number };
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** QoS 2: PUBREC seen; only its PUBREL goes out again. */
  released: boolean;
  /** Written at least once (a PUBLISH sent again then carries DUP). */
  sent: boolean;
  /** The connection it was last written on. */
  link: FlowLink | undefined;
  /** The connection that was up when it was published: its topic aliases are that connection's. */
  born: FlowLink | undefined;
  /** The store has not saved it yet: nothing is sent past it until it has. */
  saving: Promise<void> | undefined;
  /** Left in the store by an earlier client: nobody waits on it. */
  orphan: boolean;
  /** An orphan the connected broker rules out: kept in the store, unsent, holding no slot. */
  parked: boolean;
  /** A SUBSCRIBE the client made again itself after the broker lost the session. */
  resubscribe: boolean;
}

interface Waiting {
  packet: PublishPacket;
  /** A tracing context that learns the packet identifier. */
  trace: { packetId?: number } | undefined;
  /** The connection up when it was published. */
  born: FlowLink | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

function noop(): void {}

/** An acknowledgement: a connection that cannot take it has failed, and says so itself. */
function writeQuietly(link: FlowLink, packet: MqttPacket): void {
  try {
    link.write(packet);
  } catch {
    // as above
  }
}

const isMessage = (flow: Flow) => flow.kind === "qos1" || flow.kind === "qos2";

/**
 * A client's outbound flows: QoS 1/2 messages and SUBSCRIBE/UNSUBSCRIBE, from `publish()` to their
 * acknowledgement, across connections. Messages leave in `publish()` call order whatever holds
 * them back: each takes its place in one queue when published, gets its packet identifier (and
 * its place in the store) when one of `maxInFlight` slots is free (for QoS 2, one of
 * `maxInFlightQoS2` too), and is written once the store
 * has it and the broker's receive maximum allows. Nothing here waits for a turn of the event loop,
 * so no later message can pass an earlier one. A new connection gets every unfinished flow again,
 * oldest first, before anything newer. No sockets or timers: a connection is a {@link FlowLink}.
 */
export class OutboundFlows {
  readonly #options: FlowsOptions;
  /** Flows holding a packet identifier, in the order they got it. */
  readonly #flows = new Map<number, Flow>();
  /** Messages waiting for a slot, in publish() order. */
  #waiting: Array<Waiting | undefined> = [];
  #waitingHead = 0;
  /** Messages not yet written on the current connection, in order. */
  #unsent: Flow[] = [];
  #unsentHead = 0;
  /** Messages holding a slot (orphans too, parked ones not), and how many may. */
  #slots = 0;
  #limit: number;
  /** The QoS 2 ones among them, and how many may be. */
  #qos2Slots = 0;
  readonly #qos2Limit: number;
  /** Messages written on the current connection and not yet acknowledged, and the QoS 2 ones among them. */
  #outstanding = 0;
  #outstandingQoS2 = 0;
  #link: FlowLink | undefined;
  #attached = false;
  #nextId = 1;
  /** Set by failAll(): the client is finished, and anything offered later rejects with it. */
  #failure: { error: unknown } | undefined;

  constructor(options: FlowsOptions) {
    this.#options = options;
    this.#limit = options.maxInFlight;
    this.#qos2Limit = options.maxInFlightQoS2;
  }

  /** Messages waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** A QoS 1/2 message, in order behind every earlier one; resolves when its flow completes. */
  publish(packet: PublishPacket, trace?: { packetId?: number }): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ packet, trace, born: this.#link, resolve, reject });
      this.#pump();
    });
  }

  /** A SUBSCRIBE or UNSUBSCRIBE (its `packetId` is given here); resolves with the acknowledgement's codes. */
  request(packet: SubscribePacket | UnsubscribePacket): Promise<unknown> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    return new Promise((resolve, reject) => {
      let id: number;
      try {
        id = this.#allocateId();
      } catch (error) {
        reject(error);
        return;
      }
      const flow = this.#add(id, packet.type === "subscribe" ? "suback" : "unsuback", { ...packet, packetId: id });
      flow.resolve = resolve;
      flow.reject = reject;
      const link = this.#link;
      if (link !== undefined && !link.failed) this.#transmit(flow, link);
    });
  }

  /** What an earlier client left in the store (read at the first CONNACK): these go first. */
  adopt(stored: Iterable<StoredPacket>): void {
    for (const packet of stored) {
      if (this.#flows.has(packet.packetId)) continue;
      const flow = this.#add(packet.packetId, packet.type === "pubrel" || packet.qos === 2 ? "qos2" : "qos1", packet);
      flow.released = packet.type === "pubrel";
      flow.sent = true;
      flow.orphan = true;
      this.#take(flow);
    }
  }

  /**
   * The broker of a new connection has no session (MQTT 5 §4.1): a QoS 2 message past PUBREC may or
   * may not have been delivered, so its publish() says so rather than guess; the other messages
   * are published again as new ones (at least once).
   */
  sessionLost(): void {
    for (const flow of [...this.#flows.values()]) {
      if (flow.resubscribe) this.#remove(flow);
      else if (flow.kind === "qos2" && flow.released) {
        this.#abandon(
          flow,
          new ClosedError(
            "the broker lost the session after PUBREC: whether the QoS 2 message was delivered is unknown",
          ),
        );
      } else if (flow.packet.type === "publish") flow.sent = false;
    }
  }

  /**
   * A connection is up (CONNACK in, the store read): subscriptions made again go first, then the
   * other SUBSCRIBE/UNSUBSCRIBE flows, then every unfinished message in its order, then the ones
   * waiting for a slot (the window may have grown).
   */
  attach(link: FlowLink, resubscribe: readonly SubscribePacket[] = []): void {
    this.#link = link;
    this.#attached = true;
    this.#outstanding = 0;
    this.#outstandingQoS2 = 0;
    this.#limit = link.window;
    for (const packet of resubscribe) {
      const id = this.#allocateId();
      const flow = this.#add(id, "suback", { ...packet, packetId: id });
      flow.resubscribe = true;
      this.#transmit(flow, link);
    }
    const unsent: Flow[] = [];
    for (const flow of this.#flows.values()) {
      if (flow.link === link) continue;
      if (isMessage(flow)) unsent.push(flow);
      else this.#transmit(flow, link);
    }
    this.#unsent = unsent;
    this.#unsentHead = 0;
    this.#pump();
  }

  /** The connection was lost: flows wait for the next one. */
  detach(): void {
    this.#link = undefined;
    this.#outstanding = 0;
    this.#outstandingQoS2 = 0;
    this.#unsent = [];
    this.#unsentHead = 0;
  }

  /** PUBACK, PUBCOMP, SUBACK, UNSUBACK (or a PUBREC that refuses): the flow is over. */
  settle(packetId: number, ack: Ack, reasonCode: number | undefined, value?: unknown): void {
    const flow = this.#flows.get(packetId);
    if (flow === undefined) return; // an acknowledgement for nothing we sent: ignore, as brokers resend
    const fits =
      ack === flow.kind ||
      (ack === "puback" && flow.kind === "qos1") ||
      (ack === "pubrec" && flow.kind === "qos2") ||
      (ack === "pubcomp" && flow.kind === "qos2" && flow.released);
    if (!fits)
      throw new MqttProtocolError(`${ack.toUpperCase()} for packet ${packetId}, which awaits something else`, 0x82);
    this.#remove(flow);
    if (reasonCode !== undefined && reasonCode >= 0x80)
      flow.reject(new MqttReasonError(`the broker refused: reason 0x${reasonCode.toString(16)}`, reasonCode));
    else flow.resolve(value);
    this.#pump();
  }

  /** PUBREC, on connection `link`: the broker has the QoS 2 message; PUBREL releases it. */
  pubrec(packetId: number, reasonCode: number | undefined, link: FlowLink): void {
    const flow = this.#flows.get(packetId);
    if (flow !== undefined && flow.kind !== "qos2")
      throw new MqttProtocolError(`PUBREC for packet ${packetId}, which is not a QoS 2 message`, 0x82);
    if (reasonCode !== undefined && reasonCode >= 0x80) return this.settle(packetId, "pubrec", reasonCode);
    const pubrel = { type: "pubrel" as const, packetId };
    if (flow === undefined) {
      // Not ours (any more): release it so the broker can forget it too.
      writeQuietly(link, pubrel);
      return;
    }
    flow.released = true;
    const release = () => {
      if (this.#flows.get(packetId) !== flow) return;
      // On this connection PUBREL answers PUBREC now; a newer connection sends it with the rest.
      if (flow.link === this.#link && !link.failed) writeQuietly(link, pubrel);
      else this.#pump();
    };
    // The store learns of PUBREC before the broker gets PUBREL: after a restart, only PUBREL is
    // sent again. A store that fails here leaves the PUBLISH saved: a duplicate after a restart
    // at worst, while the broker, which holds the message, still gets its PUBREL.
    let saved: void | Promise<void>;
    try {
      saved = this.#options.store?.put(pubrel);
    } catch {
      saved = undefined;
    }
    if (saved === undefined || typeof saved.then !== "function") return release();
    const saving: Promise<void> = saved.then(noop, noop).then(() => {
      if (flow.saving === saving) flow.saving = undefined;
      release();
    });
    flow.saving = saving;
  }

  /** The client is finished: every flow and waiting message rejects (a store keeps its messages). */
  failAll(error: unknown): void {
    this.#failure ??= { error };
    const flows = [...this.#flows.values()];
    const waiting = this.#waiting.slice(this.#waitingHead);
    this.#flows.clear();
    this.#waiting = [];
    this.#waitingHead = 0;
    this.#slots = 0;
    this.#qos2Slots = 0;
    this.detach();
    for (const flow of flows) flow.reject(error);
    for (const message of waiting) message!.reject(error);
  }

  /**
   * Moves messages along: waiting ones take free slots (only while a connection is up, or between
   * connections once the store has been read), and unsent ones are written in order while the
   * broker's window allows and nothing before them is still being saved.
   */
  #pump(): void {
    for (;;) {
      const link = this.#link;
      if (link !== undefined && !link.failed) {
        const unsent = this.#unsent;
        while (this.#unsentHead < unsent.length) {
          const flow = unsent[this.#unsentHead]!;
          if (this.#flows.get(flow.id) !== flow || flow.link === link) {
            this.#unsentHead++;
            continue;
          }
          if (flow.saving !== undefined || this.#outstanding >= link.window) break;
          // Slots bound what is published; this bounds what an earlier client left in the store too.
          if (flow.kind === "qos2" && this.#outstandingQoS2 >= this.#qos2Limit) break;
          this.#unsentHead++;
          this.#transmit(flow, link);
        }
        if (this.#unsentHead > 1024 && this.#unsentHead * 2 > unsent.length) {
          this.#unsent = unsent.slice(this.#unsentHead);
          this.#unsentHead = 0;
        }
      }
      if (!this.#admit()) return;
    }
  }

  /** Gives free slots to waiting messages, oldest first; true if it gave any. */
  #admit(): boolean {
    const admitting = this.#link !== undefined || (this.#options.keep && this.#attached);
    let admitted = false;
    while (admitting && this.#slots < this.#limit && this.#waitingHead < this.#waiting.length) {
      const message = this.#waiting[this.#waitingHead]!;
      // A QoS 2 message waits for a QoS 2 slot, and everything behind it waits too (call order).
      if (message.packet.qos === 2 && this.#qos2Slots >= this.#qos2Limit) break;
      this.#waiting[this.#waitingHead++] = undefined;
      let id: number;
      try {
        id = this.#allocateId();
      } catch (error) {
        message.reject(error);
        continue;
      }
      const flow = this.#add(id, message.packet.qos === 2 ? "qos2" : "qos1", { ...message.packet, packetId: id });
      if (message.trace !== undefined) message.trace.packetId = id;
      flow.born = message.born;
      flow.resolve = message.resolve as (value: unknown) => void;
      flow.reject = message.reject;
      this.#take(flow);
      this.#unsent.push(flow);
      this.#save(flow);
      admitted = true;
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
    return admitted;
  }

  /** The store gets the message before the broker can: one the broker may have seen is always stored. */
  #save(flow: Flow): void {
    const store = this.#options.store;
    if (store === undefined) return;
    let saved: void | Promise<void>;
    try {
      saved = store.put(flow.packet as StoredPacket);
    } catch (error) {
      this.#abandon(flow, error);
      return;
    }
    if (saved === undefined || typeof saved.then !== "function") return;
    flow.saving = saved.then(
      () => {
        flow.saving = undefined;
        this.#pump();
      },
      (error: unknown) => {
        flow.saving = undefined;
        this.#abandon(flow, error);
        this.#pump();
      },
    );
  }

  /** Writes a flow on `link`: its PUBLISH (with DUP if sent before), its PUBREL, or its SUBSCRIBE. */
  #transmit(flow: Flow, link: FlowLink): void {
    const released = flow.kind === "qos2" && flow.released;
    let packet = flow.packet;
    if (!released && packet.type === "publish") {
      const alias = packet.properties?.topicAlias;
      // Sent before, stored by an earlier client, or published while another connection was up.
      const elsewhere = flow.link !== undefined || flow.orphan || (flow.born !== undefined && flow.born !== link);
      if (alias !== undefined && elsewhere) {
        // Topic aliases end with their connection: send the full topic name again, or give up.
        if (packet.topic === "") {
          this.#abandon(
            flow,
            new ClosedError("a PUBLISH sent with only a topic alias cannot be sent again on a new connection"),
          );
          return;
        }
        const { topicAlias: _, ...properties } = packet.properties!;
        packet = flow.packet = { ...packet, properties };
      }
      // Accepted under an earlier connection's CONNACK (or stored by an earlier client), the
      // message may be one this broker rules out: sent, the broker would disconnect (which ends
      // the client), and a stored one would do that to every client loading it.
      const refusal = link.refusal(packet);
      if (refusal !== undefined) return this.#refused(flow, packet, refusal);
      if (flow.parked) {
        flow.parked = false;
        this.#take(flow);
      }
    }
    const wire: MqttPacket = released
      ? { type: "pubrel", packetId: flow.id }
      : flow.sent && packet.type === "publish"
        ? { ...packet, dup: true }
        : packet;
    flow.sent = true;
    flow.link = link;
    if (isMessage(flow)) this.#outstanding++;
    if (flow.kind === "qos2") this.#outstandingQoS2++;
    try {
      link.write(wire);
    } catch (error) {
      // A lost connection keeps the flow for the next one (with reconnect); a packet that cannot
      // be sent at all (too large for the broker) ends it.
      if (link.failed && this.#options.keep) return;
      this.#abandon(flow, error);
    }
  }

  #refused(flow: Flow, packet: PublishPacket, refusal: MqttReasonError): void {
    if (flow.orphan) {
      // Another client's message: kept in the store, unsent, for a connection that takes it;
      // meanwhile its slot goes back, so it holds up no one.
      if (flow.parked) return;
      flow.parked = true;
      this.#give(flow);
      const parked: MqttParkedMessage = { packetId: flow.id, topic: packet.topic, error: refusal };
      // After the current step (a reconnection reports "connected" first).
      queueMicrotask(() => this.#options.onParked(parked));
    } else if (flow.link !== undefined) {
      // Written on an earlier connection: the broker may have it, so "refused" would be wrong.
      this.#abandon(
        flow,
        new ClosedError(
          "the broker came back accepting less (maximumQoS or retainAvailable) and this message, sent on an earlier connection, cannot be sent again: whether it was delivered is unknown",
          { cause: refusal },
        ),
      );
    } else this.#abandon(flow, refusal);
  }

  #take(flow: Flow): void {
    this.#slots++;
    if (flow.kind === "qos2") this.#qos2Slots++;
  }

  #give(flow: Flow): void {
    this.#slots--;
    if (flow.kind === "qos2") this.#qos2Slots--;
  }

  #add(id: number, kind: Kind, packet: MqttPacket & { packetId: number }): Flow {
    const flow: Flow = {
      id,
      kind,
      packet,
      resolve: noop,
      reject: noop,
      released: false,
      sent: false,
      link: undefined,
      born: undefined,
      saving: undefined,
      orphan: false,
      parked: false,
      resubscribe: false,
    };
    this.#flows.set(id, flow);
    return flow;
  }

  /** Ends a flow with an error and frees its identifier (and its stored copy). */
  #abandon(flow: Flow, error: unknown): void {
    if (this.#flows.get(flow.id) !== flow) return;
    this.#remove(flow);
    flow.reject(error);
  }

  /** A flow is over: its identifier, its slot, its place in the window and its stored copy go. */
  #remove(flow: Flow): void {
    this.#flows.delete(flow.id);
    if (!isMessage(flow)) return;
    if (!flow.parked) this.#give(flow);
    if (flow.link !== undefined && flow.link === this.#link) {
      this.#outstanding--;
      if (flow.kind === "qos2") this.#outstandingQoS2--;
    }
    const store = this.#options.store;
    if (store === undefined) return;
    const remove = () => {
      try {
        const removed = store.delete(flow.id);
        // A failed delete means a duplicate after a restart at worst (QoS 1/2 allow it); not a reason to fail the flow.
        if (removed && typeof removed.then === "function") removed.then(undefined, noop);
      } catch {
        // as above
      }
    };
    if (flow.saving !== undefined) void flow.saving.then(remove, remove);
    else remove();
  }

  #allocateId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.#flows.has(id)) return id;
    }
    throw new ClosedError("all 65,535 packet identifiers are in use");
  }
}
