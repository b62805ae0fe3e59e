// The outbound flows alone (no broker, no socket), driven through interleavings of publishes, the
// broker's acknowledgements, store saves finishing out of order, window sizes, and lost connections
// (the broker keeping the session), against a model broker. Not modelled here: messages an earlier
// client left in the store, a broker without the session, refusals, SUBSCRIBE flows and failing
// saves (the scripted-broker suites cover those). Checked: each QoS level's messages leave in
// publish() order on every connection, QoS 2 is delivered exactly once, QoS 1 at least once, every
// publish() completes, the window is never exceeded, the broker never holds more QoS 2 messages
// awaiting PUBREL than maxInFlightQoS2, and nothing is written before the store has it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OutboundFlows, type FlowLink } from "../src/mqtt/flows.js";
import { mqttSettings } from "../src/mqtt/options.js";
import type { MqttPacket, PublishPacket, QoS } from "../src/mqtt/packets.js";
import type { MqttStore, StoredPacket } from "../src/mqtt/store.js";

type Reply = { type: "puback" | "pubrec" | "pubcomp"; packetId: number };

/** A connection as flows see it, and the broker's end of it (TCP: both directions in order). */
class Link implements FlowLink {
  failed = false;
  readonly toBroker: MqttPacket[] = [];
  readonly toClient: Reply[] = [];
  /** Messages sent on this connection, by QoS, in the order written (first sends and resends). */
  readonly written: Record<1 | 2, number[]> = { 1: [], 2: [] };
  /** Packet ids unacknowledged on this connection (PUBLISH or PUBREL written, no PUBACK/PUBCOMP back yet). */
  readonly open = new Set<number>();
  maxOpen = 0;
  /** PUBLISHes written before the store had them (a restart could then lose a message the broker saw). */
  unsaved = 0;
  constructor(
    readonly window: number,
    readonly store?: SlowStore,
  ) {}
  write(packet: MqttPacket): void {
    if (this.failed) throw new Error("connection lost");
    if (this.store && packet.type === "publish" && !this.store.packets.has(packet.packetId!)) this.unsaved++;
    this.toBroker.push(packet);
    if (packet.type === "publish" && packet.qos > 0) this.written[packet.qos as 1 | 2].push(Number(text(packet)));
    if ((packet.type === "publish" && packet.qos > 0) || packet.type === "pubrel") {
      this.open.add(packet.packetId!);
      this.maxOpen = Math.max(this.maxOpen, this.open.size);
    }
  }
  refusal(): undefined {
    return undefined;
  }
}

const text = (packet: PublishPacket) => new TextDecoder().decode(packet.payload);

/** The broker's side of the session: it outlives connections (session present). */
class Broker {
  readonly delivered: Record<QoS, number[]> = { 0: [], 1: [], 2: [] };
  readonly held = new Set<number>(); // QoS 2 ids received, awaiting PUBREL
  /** The most QoS 2 messages held awaiting PUBREL at once (EMQX cuts a client past its limit). */
  maxHeld = 0;
  step(link: Link): void {
    const packet = link.toBroker.shift();
    if (packet === undefined) return;
    if (packet.type === "publish") {
      const id = packet.packetId!;
      if (packet.qos === 1) {
        this.delivered[1].push(Number(text(packet)));
        link.toClient.push({ type: "puback", packetId: id });
      } else if (packet.qos === 2) {
        // Method B: delivered once, at the first PUBLISH of an id it does not hold.
        if (!this.held.has(id)) {
          this.held.add(id);
          this.maxHeld = Math.max(this.maxHeld, this.held.size);
          this.delivered[2].push(Number(text(packet)));
        }
        link.toClient.push({ type: "pubrec", packetId: id });
      }
    } else if (packet.type === "pubrel") {
      this.held.delete(packet.packetId);
      link.toClient.push({ type: "pubcomp", packetId: packet.packetId });
    }
  }
}

/** A store whose saves finish when the test says, in any order. */
class SlowStore implements MqttStore {
  readonly pending: Array<() => void> = [];
  readonly packets = new Map<number, StoredPacket>();
  put(packet: StoredPacket): Promise<void> {
    return new Promise((resolve) => {
      this.pending.push(() => {
        this.packets.set(packet.packetId, packet);
        resolve();
      });
    });
  }
  delete(packetId: number): void {
    this.packets.delete(packetId);
  }
  list(): StoredPacket[] {
    return [...this.packets.values()];
  }
}

type Command =
  | { kind: "publish"; qos: 1 | 2 }
  | { kind: "broker"; steps: number }
  | { kind: "client"; steps: number }
  | { kind: "save"; pick: number }
  | { kind: "reconnect"; window: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(1 as const, 2 as const).map((qos) => ({ kind: "publish" as const, qos })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }).map((steps) => ({ kind: "broker" as const, steps })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 4 }).map((steps) => ({ kind: "client" as const, steps })) },
  { weight: 3, arbitrary: fc.nat().map((pick) => ({ kind: "save" as const, pick })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 6 }).map((window) => ({ kind: "reconnect" as const, window })) },
);

const settle = async () => {
  for (let i = 0; i < 8; i++) await Promise.resolve();
};

async function run(
  commands: Command[],
  maxInFlight: number,
  maxInFlightQoS2: number,
  firstWindow: number,
  withStore: boolean,
) {
  const store = withStore ? new SlowStore() : undefined;
  const flows = new OutboundFlows({
    ...(store ? { store } : {}),
    keep: true,
    maxInFlight,
    maxInFlightQoS2,
    onParked: () => {},
  });
  const broker = new Broker();
  const links: Link[] = [];
  let link = new Link(firstWindow, store);
  links.push(link);
  flows.attach(link);
  const published: Record<1 | 2, number> = { 1: 0, 2: 0 };
  const done: Array<Promise<void>> = [];
  const clientStep = () => {
    const reply = link.toClient.shift();
    if (reply === undefined) return;
    if (reply.type === "pubrec") flows.pubrec(reply.packetId, undefined, link);
    else {
      link.open.delete(reply.packetId);
      flows.settle(reply.packetId, reply.type, undefined);
    }
  };
  const reconnect = (window: number) => {
    // What was in flight either way is lost with the connection.
    link.failed = true;
    flows.detach();
    link = new Link(window, store);
    links.push(link);
    flows.attach(link);
  };
  for (const c of commands) {
    if (c.kind === "publish") {
      const n = published[c.qos]++;
      done.push(
        flows.publish({
          type: "publish",
          topic: "t",
          payload: new TextEncoder().encode(String(n)),
          qos: c.qos,
          retain: false,
          dup: false,
        }),
      );
    } else if (c.kind === "broker") for (let i = 0; i < c.steps; i++) broker.step(link);
    else if (c.kind === "client") for (let i = 0; i < c.steps; i++) clientStep();
    else if (c.kind === "save" && store && store.pending.length > 0)
      store.pending.splice(c.pick % store.pending.length, 1)[0]!();
    else if (c.kind === "reconnect") reconnect(c.window);
    await settle();
  }
  // Drain: every save finishes, every packet and reply is handled, until nothing moves.
  for (let rounds = 0; rounds < 100_000; rounds++) {
    const busy = (store?.pending.length ?? 0) + link.toBroker.length + link.toClient.length;
    if (busy === 0) break;
    store?.pending.shift()?.();
    broker.step(link);
    clientStep();
    await settle();
  }
  let finished = false;
  void Promise.all(done).then(() => (finished = true));
  await settle();
  return { broker, links, published, finished, store };
}

/** Until nothing moves: the broker reads everything sent, then the client everything it answered (TCP's batches). */
async function exchange(flows: OutboundFlows, link: Link, broker: Broker) {
  while (link.toBroker.length > 0 || link.toClient.length > 0) {
    while (link.toBroker.length > 0) broker.step(link);
    for (let reply = link.toClient.shift(); reply; reply = link.toClient.shift()) {
      if (reply.type === "pubrec") flows.pubrec(reply.packetId, undefined, link);
      else {
        link.open.delete(reply.packetId);
        flows.settle(reply.packetId, reply.type, undefined);
      }
    }
    await settle();
  }
}

describe("MQTT outbound flows, without a broker or a socket", () => {
  it("any interleaving: per QoS in publish() order on every connection; QoS 2 exactly once, QoS 1 at least once; all complete; the window holds", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        async (commands, maxInFlight, maxInFlightQoS2, firstWindow, withStore) => {
          const { broker, links, published, finished, store } = await run(
            commands,
            maxInFlight,
            maxInFlightQoS2,
            firstWindow,
            withStore,
          );
          expect(finished).toBe(true);
          const all = (n: number) => Array.from({ length: n }, (_, i) => i);
          expect(broker.delivered[2]).toEqual(all(published[2]));
          // QoS 1: repeats only where a connection was lost; the first deliveries are in order.
          expect([...new Set(broker.delivered[1])]).toEqual(all(published[1]));
          for (const link of links) {
            for (const qos of [1, 2] as const) {
              const written = link.written[qos];
              expect(written, `QoS ${qos} on one connection`).toEqual([...written].sort((a, b) => a - b));
            }
            expect(link.maxOpen).toBeLessThanOrEqual(link.window);
            expect(link.unsaved, "PUBLISHes written before the store had them").toBe(0);
          }
          expect(broker.maxHeld, "QoS 2 messages held by the broker awaiting PUBREL").toBeLessThanOrEqual(
            maxInFlightQoS2,
          );
          expect(store?.packets.size ?? 0).toBe(0); // every finished flow left the store
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a burst bigger than the window, with saves finishing in reverse order: written in publish() order", async () => {
    const store = new SlowStore();
    const flows = new OutboundFlows({ store, keep: false, maxInFlight: 50, maxInFlightQoS2: 50, onParked: () => {} });
    const link = new Link(10, store);
    flows.attach(link);
    const done = Array.from({ length: 100 }, (_, i) =>
      flows.publish({
        type: "publish",
        topic: "t",
        payload: new TextEncoder().encode(String(i)),
        qos: 1,
        retain: false,
        dup: false,
      }),
    );
    expect(store.pending.length).toBe(10); // identifiers (and saves) for the window's worth only
    while (store.pending.length > 0) store.pending.pop()!(); // newest first
    await settle();
    expect(link.written[1]).toEqual(Array.from({ length: 10 }, (_, i) => i)); // the window's worth, in order
    const broker = new Broker();
    for (
      let i = 0;
      i < 10_000 && (link.toBroker.length > 0 || link.toClient.length > 0 || store.pending.length > 0);
      i++
    ) {
      broker.step(link);
      const reply = link.toClient.shift();
      if (reply) flows.settle(reply.packetId, reply.type as "puback", undefined);
      store.pending.pop()?.();
      await settle();
    }
    await Promise.all(done);
    expect(link.unsaved).toBe(0);
    expect(broker.delivered[1]).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("a burst at the client's defaults: at most 100 QoS 2 messages await PUBREL at the broker (EMQX's default limit), QoS 1 behind a waiting QoS 2 one waits too, and QoS 1 alone fills the window of 200", async () => {
    const settings = mqttSettings({ connect: (() => undefined) as never, address: { hostname: "h", port: 1883 } });
    expect([settings.maxInFlight, settings.maxInFlightQoS2]).toEqual([200, 100]);
    const flows = new OutboundFlows({ ...settings, keep: false, onParked: () => {} });
    // The window a broker that announces no receive maximum leaves: min(maxInFlight, 65535).
    const link = new Link(Math.min(settings.maxInFlight, 65535));
    flows.attach(link);
    const qos = (i: number) => (i % 4 === 3 ? 1 : 2); // three QoS 2 messages to one QoS 1
    const done = Array.from({ length: 10_000 }, (_, i) =>
      flows.publish({
        type: "publish",
        topic: "t",
        payload: new TextEncoder().encode(String(i)),
        qos: qos(i),
        retain: false,
        dup: false,
      }),
    );
    // The 101st QoS 2 message (the 134th message) waits for a QoS 2 slot, and so does everything after it.
    expect(link.written[2]).toHaveLength(100);
    expect(link.written[1]).toHaveLength(33);
    const broker = new Broker();
    await exchange(flows, link, broker);
    await Promise.all(done);
    expect(broker.maxHeld).toBe(100);
    expect(link.maxOpen).toBeLessThan(200);
    // QoS 1 alone fills the whole window.
    const more = Array.from({ length: 1000 }, (_, i) =>
      flows.publish({
        type: "publish",
        topic: "t",
        payload: new TextEncoder().encode(String(10_000 + i)),
        qos: 1,
        retain: false,
        dup: false,
      }),
    );
    expect(link.open.size).toBe(200);
    await exchange(flows, link, broker);
    await Promise.all(more);
    expect(link.maxOpen).toBe(200);
    const sent = Array.from({ length: 10_000 }, (_, i) => i);
    expect(broker.delivered[2]).toEqual(sent.filter((i) => qos(i) === 2));
    expect(broker.delivered[1]).toEqual([
      ...sent.filter((i) => qos(i) === 1),
      ...Array.from({ length: 1000 }, (_, i) => 10_000 + i),
    ]);
  });

  it("messages an earlier client left in the store are sent again within the QoS 2 cap too: 150 stored QoS 2 messages, at most 100 awaiting PUBREL, all delivered in order", async () => {
    const flows = new OutboundFlows({ keep: true, maxInFlight: 200, maxInFlightQoS2: 100, onParked: () => {} });
    flows.adopt(
      Array.from({ length: 150 }, (_, i) => ({
        type: "publish" as const,
        topic: "t",
        payload: new TextEncoder().encode(String(i)),
        qos: 2 as const,
        retain: false,
        dup: false,
        packetId: i + 1,
      })),
    );
    const link = new Link(200);
    flows.attach(link);
    expect(link.written[2]).toHaveLength(100);
    const broker = new Broker();
    await exchange(flows, link, broker);
    expect(broker.maxHeld).toBe(100);
    expect(broker.delivered[2]).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });

  it("after failAll (the client finished) a publish or a SUBSCRIBE offered later rejects at once, not never", async () => {
    const flows = new OutboundFlows({ keep: true, maxInFlight: 10, maxInFlightQoS2: 10, onParked: () => {} });
    flows.attach(new Link(5));
    flows.failAll(new Error("finished"));
    await expect(
      flows.publish({ type: "publish", topic: "t", payload: new Uint8Array(), qos: 1, retain: false, dup: false }),
    ).rejects.toThrow("finished");
    await expect(
      flows.request({ type: "subscribe", packetId: 0, subscriptions: [{ topic: "t", qos: 1 }] }),
    ).rejects.toThrow("finished");
  });

  it("a message sent by topic alias alone, published while another connection was up, is not sent on the new one", async () => {
    const flows = new OutboundFlows({ keep: true, maxInFlight: 1, maxInFlightQoS2: 1, onParked: () => {} });
    const first = new Link(1);
    flows.attach(first);
    const alias = { topicAlias: 1 };
    const named = flows.publish({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(),
      qos: 1,
      retain: false,
      dup: false,
      properties: alias,
    });
    // Waits for the one slot, on the first connection's alias.
    const byAlias = flows.publish({
      type: "publish",
      topic: "",
      payload: new Uint8Array(),
      qos: 1,
      retain: false,
      dup: false,
      properties: alias,
    });
    first.failed = true;
    flows.detach();
    const second = new Link(5);
    flows.attach(second);
    await expect(byAlias).rejects.toMatchObject({ code: "ECLOSED" });
    // The one with a topic goes again with its name and without the old connection's alias.
    const resent = second.toBroker.filter((p) => p.type === "publish") as Array<{ topic: string; properties?: object }>;
    expect(resent).toEqual([expect.objectContaining({ topic: "t" })]);
    expect(resent[0]!.properties).not.toHaveProperty("topicAlias");
    second.toClient.length = 0;
    flows.settle(1, "puback", undefined);
    await named;
  });
});
