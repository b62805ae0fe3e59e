/**
 * MQTT reconnection against brokers the harness drops, stops and restarts
 * (Aedes in-process, Mosquitto with persistence, nats-server), run in workerd and on Node.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import {
  createMemoryStore,
  createMqttClient,
  type MqttClient,
  type MqttClientOptions,
  type MqttConnectionEvent,
  type MqttMessage,
  type MqttPacket,
  type ProtocolVersion,
} from "@sockkit/core/mqtt";
import { sendControl } from "../harness/shared/control-client.js";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import { rejection, waitUntil } from "../harness/shared/promises.js";
import { tapMqttWrites } from "../harness/shared/mqtt-wire-tap.js";
import { expectInOrder } from "./mqtt-conformance.js";
import type { RuntimeName } from "./runtimes.js";

export interface MqttReconnectConformanceOptions {
  runtime: RuntimeName;
  connect: Connect;
  mqtt: MqttTestEnv;
}

const text = (packet: { payload: Uint8Array }) => Number(new TextDecoder().decode(packet.payload).slice(2));
export function mqttReconnectConformance({ runtime, connect, mqtt }: MqttReconnectConformanceOptions): void {
  const clients: MqttClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeoutMs: 1000 })));
  });
  const run = Math.random().toString(36).slice(2, 8);
  const fast = { baseDelayMs: 20, maxDelayMs: 200 };

  const brokers: Array<[name: string, victim: { port: number; control: number }, version: ProtocolVersion]> = [
    ["Aedes", mqtt.victims.aedes, 4],
    ["Mosquitto", mqtt.victims.mosquitto, 4],
    ["Mosquitto", mqtt.victims.mosquitto, 5],
  ];

  for (const [broker, victim, protocolVersion] of brokers) {
    const name = `${broker}, MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"}`;
    describe(`MQTT reconnection, ${name} (${runtime})`, () => {
      const control = (command: string) => sendControl(connect, victim.control, command);
      let serial = 0;
      const open = (options: Partial<MqttClientOptions> = {}) => {
        const client = createMqttClient({
          connect,
          address: { hostname: "127.0.0.1", port: victim.port },
          protocolVersion,
          clientId: `sk-${run}-${runtime}-${protocolVersion}-${serial++}`,
          reconnect: fast,
          // MQTT 5 ends a session at disconnect unless it is given an expiry.
          ...(protocolVersion === 5 ? { sessionExpiry: 300 } : {}),
          ...options,
        });
        clients.push(client);
        return client;
      };
      const topic = (t: string) => `sockkit/rc/${run}/${runtime}/${broker}/${protocolVersion}/${t}`;
      const nextConnection = (client: MqttClient) =>
        new Promise<MqttConnectionEvent & { type: "connected" }>((resolve, reject) => {
          const timeout = setTimeout(() => (stop(), reject(new Error("no reconnection within 10 s"))), 10_000);
          const stop = client.onConnection((event) => {
            if (event.type !== "connected") return;
            clearTimeout(timeout);
            stop();
            resolve(event);
          });
        });
      /**
       * Collects messages by payload until every one of `expected` arrived (fails after 20 s,
       * naming the missing ones, instead of hanging; with `settle`, resolves then with what came,
       * for the test to say who lost the rest); `redelivered` counts repeats flagged DUP.
       */
      const collect = (
        client: MqttClient,
        expected: string[],
        redelivered = new Map<string, number>(),
        settle = false,
      ) => {
        const arrived = new Promise<Map<string, number>>((resolve, reject) => {
          const got = new Map<string, number>();
          const missing = new Set(expected);
          const timeout = setTimeout(() => {
            stop();
            if (settle) return resolve(got);
            reject(
              new Error(
                `${missing.size} of ${expected.length} messages never arrived: ${[...missing].slice(0, 10).join(", ")}`,
              ),
            );
          }, 20_000);
          const stop = client.onMessage((m: MqttMessage) => {
            if (got.has(m.text) && m.dup) redelivered.set(m.text, (redelivered.get(m.text) ?? 0) + 1);
            got.set(m.text, (got.get(m.text) ?? 0) + 1);
            missing.delete(m.text);
            if (missing.size === 0) {
              clearTimeout(timeout);
              stop();
              // A duplicate would come right behind: give it a moment to show.
              setTimeout(() => resolve(got), 200);
            }
          });
        });
        arrived.catch(() => {}); // a test that failed before awaiting it reports its own error
        return arrived;
      };

      // None lost by the client. Repeats: both brokers send some QoS 2 messages again around a
      // restart (Mosquitto ones the subscriber had completed, flagged DUP; Aedes, racing a DUP
      // resend from the old connection with the new one, as new messages); MQTT.js as the
      // subscriber sees the same. Repeats can only come from the flows in flight at the restart:
      // the publisher's QoS 2 window (maxInFlightQoS2, 100 by default) and whatever the broker still held
      // unacknowledged for the subscriber, which neither broker bounds here (MQTT 3.1.1 has no
      // receive maximum; Mosquitto runs with max_inflight_messages 0). Under a full test run Aedes
      // once held about 300 of 10,000 and resent them, some from the first hundred: the bound is
      // a twentieth of the stream (at least 200), far below what a client resending everything
      // before the restart (a third) would give. The client's own exactly-once part is pinned
      // packet by packet against the scripted broker below.
      //
      // Losses: Mosquitto loses none. Aedes (1.2, sessions in memory) under a loaded full test run
      // once lost 32 of the messages in the publisher's window at the restart (a window of 200
      // then; MQTT.js as the subscriber loses messages there too), after completing their flows
      // with the publisher. The subscriber's wire is read here, so a loss is pinned on the side
      // that lost it: the client, if it acknowledged the message (PUBREC) and never delivered it;
      // the broker otherwise.
      it("a restart in the middle of a stream: QoS 2 messages none lost by the client, repeats only from the flows in flight; QoS 1 at least once; the session resumes", async () => {
        const n = broker === "Aedes" ? 10_000 : 1_000;
        const subscriberWire = tapMqttWrites(connect, protocolVersion);
        const subscriber = open({ connect: subscriberWire.connect, clean: false });
        const wire = tapMqttWrites(connect, protocolVersion);
        const publisher = open({
          connect: wire.connect,
          clean: false,
          reconnect: { ...fast, maxOfflineMessages: n },
        });
        await subscriber.subscribe([{ topic: topic("stream/+"), qos: 2 }]);
        // The restart cuts a stream under way, with messages in flight. Aedes (1.x) reports a session
        // present only for a client with subscriptions: a publisher alone would be told after the
        // restart that its session is gone, and its QoS 2 messages past PUBREC would then reject as
        // "delivery unknown", as the spec asks. A subscription keeps Aedes's answer true.
        await publisher.subscribe(topic("publisher-session"), { qos: 1 });
        const resumed = nextConnection(subscriber);
        const redelivered = new Map<string, number>();
        const expected = Array.from({ length: n }, (_, i) => `2:${i}`);
        const arrived = collect(subscriber, ["1:last", ...expected], redelivered, true);
        const published: Array<Promise<void>> = [];
        for (let i = 0; i < n; i++) {
          published.push(publisher.publish(topic("stream/2"), `2:${i}`, { qos: 2 }));
          // The broker goes away a third of the way in, and comes back 300 ms later.
          if (i === Math.floor(n / 3)) await control("restart 300");
        }
        published.push(publisher.publish(topic("stream/1"), "1:last", { qos: 1 }));
        await Promise.all(published);
        const got = await arrived;

        // Every publish() resolved: the broker completed each QoS 2 flow (PUBCOMP), so it took
        // each message on. A message the subscriber acknowledged (PUBREC on the connection it
        // came on) and never delivered is the client's loss; one it never acknowledged (never
        // sent, or read as its connection failed) is the broker's.
        const decoder = new TextDecoder();
        const acknowledged = new Set<string>();
        subscriberWire.received.forEach((read, c) => {
          const payloadOf = new Map<number, string>();
          for (const p of read)
            if (p.type === "publish" && p.qos === 2) payloadOf.set(p.packetId!, decoder.decode(p.payload));
          for (const p of subscriberWire.connections[c]!) {
            const payload = p.type === "pubrec" ? payloadOf.get(p.packetId) : undefined;
            if (payload !== undefined) acknowledged.add(payload);
          }
        });
        const missing = expected.filter((t) => !got.has(t));
        expect(acknowledged.size, "the subscriber's wire").toBeGreaterThanOrEqual(n - missing.length);
        expect(
          missing.filter((t) => acknowledged.has(t)),
          "acknowledged by the subscriber (PUBREC), never delivered by it",
        ).toEqual([]);
        expect(
          missing.length,
          `lost by ${broker} after it completed their flows: ${missing.slice(0, 10).join(", ")}`,
        ).toBeLessThanOrEqual(broker === "Aedes" ? 100 : 0); // Aedes: at most the QoS 2 window
        const repeats = expected.filter((text) => got.get(text)! > 1);
        expect(
          repeats.length,
          `repeated: ${repeats.slice(0, 10).join(", ")} (${redelivered.size} flagged DUP)`,
        ).toBeLessThanOrEqual(Math.max(200, n / 20));
        expect(got.get("1:last")).toBeGreaterThanOrEqual(1);
        // Order (MQTT §4.6), on the wire: every connection of the publisher wrote the messages in
        // publish() order, the ones unacknowledged at the restart again first, then the newer ones.
        expect(wire.connections.length).toBeGreaterThan(1);
        for (const written of wire.connections) {
          const sent = written.flatMap((p) => (p.type === "publish" && p.topic === topic("stream/2") ? [text(p)] : []));
          expect(sent).toEqual([...sent].sort((a, b) => a - b));
        }
        // And at the subscriber: each message first arrived after every one published before it.
        // Aedes (1.x) breaks this around a restart: messages it took in while the subscriber was
        // reconnecting can reach it after newer ones (seen with MQTT.js as the publisher too; its
        // own "publish" events come out of order as well). There, each arrived once at first is what holds.
        const firstArrivals = [...got.keys()].filter((t) => t.startsWith("2:")).map((t) => Number(t.slice(2)));
        if (broker === "Mosquitto") expectInOrder(firstArrivals, n);
        expect(await resumed).toMatchObject({ sessionPresent: true, reconnected: true });
      }, 45_000); // a loss is waited for up to 20 s before the wires say who lost it

      it("messages published while the broker is down wait and go out on reconnection; publish() resolves then", async () => {
        const subscriber = open({ clean: false });
        const publisher = open({ clean: false });
        await subscriber.subscribe(topic("offline"), { qos: 1 });
        await publisher.connect();
        await control("stop");
        // QoS 0 is not queued for a subscriber that is itself reconnecting: only its publish() is checked.
        const arrived = collect(subscriber, ["q1", "q2"]);
        const waiting = [
          publisher.publish(topic("offline"), "q1", { qos: 1 }),
          publisher.publish(topic("offline"), "q2", { qos: 2 }),
          publisher.publish(topic("offline"), "q0", { qos: 0 }),
        ];
        let settled = false;
        void Promise.allSettled(waiting).then(() => (settled = true));
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(settled).toBe(false);
        expect(publisher.connected).toBe(false);
        await control("start");
        await Promise.all(waiting);
        expect([...(await arrived).keys()].filter((text) => text !== "q0").sort()).toEqual(["q1", "q2"]);
      });

      it("a broker that lost the session (clean session): every subscription is made again", async () => {
        const subscriber = open({ clean: true });
        await subscriber.subscribe([{ topic: topic("clean/a"), qos: 1 }]);
        await subscriber.subscribe(topic("clean/b"), { qos: 0 });
        const resumed = nextConnection(subscriber);
        await control(broker === "Aedes" ? "drop" : "restart 50");
        expect(await resumed).toMatchObject({ sessionPresent: false, reconnected: true });
        const arrived = collect(subscriber, ["a", "b"]);
        const publisher = open();
        // The SUBSCRIBE went out first on the new connection; a round trip makes sure it was handled.
        await subscriber.subscribe(topic("clean/sync"));
        await publisher.publish(topic("clean/a"), "a", { qos: 1 });
        await publisher.publish(topic("clean/b"), "b", { qos: 1 });
        expect([...(await arrived).keys()].sort()).toEqual(["a", "b"]);
      });

      if (broker === "Mosquitto")
        it("a shared subscription is made again when the broker lost the session: the group splits the stream again, every message once", async () => {
          const filter = `$share/g${run}${protocolVersion}/${topic("shared")}`;
          const consumers = [open({ clean: true }), open({ clean: true })];
          const got = consumers.map(() => [] as number[]);
          consumers.forEach((c, i) => c.onMessage((m) => got[i]!.push(Number(m.text))));
          for (const c of consumers) await c.subscribe(filter, { qos: 1 });
          const resumed = consumers.map(nextConnection);
          await control("restart 50");
          for (const event of await Promise.all(resumed)) expect(event).toMatchObject({ sessionPresent: false });
          // The SUBSCRIBE went out first on each new connection; a round trip makes sure it was handled.
          for (const c of consumers) await c.subscribe(topic("shared-sync"));
          const publisher = open();
          const n = 1_000;
          await Promise.all(
            Array.from({ length: n }, (_, i) => publisher.publish(topic("shared"), String(i), { qos: 1 })),
          );
          await waitUntil(() => got[0]!.length + got[1]!.length >= n, 10_000);
          expect(got.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
          for (const list of got) expect(list.length).toBeGreaterThan(0);
        });

      it("an in-flight store: a new client with the same id sends again what the old one left", async () => {
        const store = createMemoryStore();
        const subscriber = open({ clean: false });
        await subscriber.subscribe(topic("stored"), { qos: 1 });
        const clientId = `sk-${run}-${runtime}-${protocolVersion}-stored`;
        const first = open({ clientId, clean: false, store });
        await first.connect();
        await control("stop");
        const lost = first.publish(topic("stored"), "left behind", { qos: 1 });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(store.size).toBe(1);
        first.destroy();
        expect(await rejection(lost)).toMatchObject({ code: "ECLOSED" });
        expect(store.size).toBe(1);
        await control("start");
        const arrived = collect(subscriber, ["left behind"]);
        const second = open({ clientId, clean: false, store });
        await second.connect();
        expect((await arrived).get("left behind")).toBeGreaterThanOrEqual(1);
        await waitUntil(() => store.size === 0, 1000);
        expect(store.size).toBe(0);
      });

      it("a store whose first read fails is read again on the next attempt: what it held is still sent", async () => {
        const subscriber = open({ clean: false });
        await subscriber.subscribe(topic("reread"), { qos: 1 });
        const arrived = collect(subscriber, ["from the store"]);
        const memory = createMemoryStore();
        await memory.put({
          type: "publish",
          topic: topic("reread"),
          payload: new TextEncoder().encode("from the store"),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 1,
        });
        let failures = 0;
        const store = {
          ...memory,
          list: () => (failures++ === 0 ? Promise.reject(new Error("storage unavailable")) : memory.list()),
        };
        const client = open({ clean: false, store });
        await client.connect();
        // The new client's own first message takes id 1 too: it must not overwrite the stored one.
        await client.publish(topic("reread"), "new", { qos: 1 });
        expect((await arrived).get("from the store")).toBeGreaterThanOrEqual(1);
        expect(failures).toBe(2);
      });

      it("bounded: past maxOfflineMessages a publish rejects at once; out of retries, everything rejects and closed resolves", async () => {
        const client = open({ reconnect: { baseDelayMs: 50, maxDelayMs: 200, retries: 5, maxOfflineMessages: 2 } });
        await client.connect();
        await control("stop");
        try {
          const events: string[] = [];
          client.onConnection((event) =>
            events.push(`${event.type}:${event.type === "disconnected" ? event.willReconnect : event.sessionPresent}`),
          );
          await waitUntil(() => !client.connected); // the client has seen the broker go
          expect(client.connected).toBe(false);
          const queued = [client.publish(topic("bounded"), "1"), client.publish(topic("bounded"), "2")];
          expect(await rejection(client.publish(topic("bounded"), "3"))).toMatchObject({
            code: "ECLOSED",
            message: expect.stringContaining("maxOfflineMessages"),
          });
          await client.closed;
          for (const pending of queued) expect(await rejection(pending)).toMatchObject({ code: "ECONNECT" });
          expect(await rejection(client.publish(topic("bounded"), "4", { qos: 1 }))).toMatchObject({
            code: "ECONNECT",
          });
          expect(events.at(-1)).toBe("disconnected:false");
        } finally {
          await control("start");
        }
      });

      // Aedes only: the harness drops its connections in place, where Mosquitto must restart.
      if (broker === "Aedes")
        it("connections lost right after their CONNACK count as failures: the backoff grows instead of retrying every baseDelayMs", async () => {
          const client = open({ reconnect: { baseDelayMs: 20, maxDelayMs: 400 } });
          await client.connect();
          const gaps: number[] = [];
          for (let i = 0; i < 6; i++) {
            const next = nextConnection(client);
            const dropped = Date.now();
            await control("drop");
            await next;
            gaps.push(Date.now() - dropped);
          }
          // Quick losses 1 to 6 wait 20, 40, 80, 160, 320 and 400 (capped) ms, each jittered into its upper half.
          expect(gaps[4]).toBeGreaterThanOrEqual(160);
          expect(gaps[5]).toBeGreaterThanOrEqual(200);
        });

      if (broker === "Mosquitto" && protocolVersion === 5)
        it("a broker back with a lower maximumQoS: a QoS 2 message published while it was away is refused with 0x9B, not sent to end every connection", async () => {
          const client = open();
          await client.connect();
          await control("stop");
          try {
            const offline = client.publish(topic("downgrade"), "x", { qos: 2 });
            offline.catch(() => {});
            const back = nextConnection(client);
            await control("start max_qos_1");
            await back;
            const lost: MqttConnectionEvent[] = [];
            const stop = client.onConnection((event) => lost.push(event));
            // Sent, it would get DISCONNECT 0x9B from Mosquitto, which ends the client (the old code's
            // rejection carried the same code, but came from the broker and took the client with it).
            await expect(offline).rejects.toMatchObject({
              code: "EREPLY",
              reasonCode: 0x9b,
              message: expect.stringMatching(/QoS up to 1/),
            });
            await client.publish(topic("downgrade-ok"), "y", { qos: 1 });
            expect(client.connected).toBe(true);
            stop();
            expect(lost).toEqual([]);
          } finally {
            await control("restart 0"); // the usual settings again, for the other tests
          }
        });

      it("end() while reconnecting: no further attempt, waiting flows reject with ECLOSED", async () => {
        const client = open();
        await client.connect();
        await control("stop");
        try {
          const pending = client.publish(topic("ending"), "x", { qos: 1 });
          await new Promise((resolve) => setTimeout(resolve, 50));
          await client.end();
          expect(await rejection(pending)).toMatchObject({ code: "ECLOSED" });
          expect(client.connected).toBe(false);
        } finally {
          await control("start");
        }
        // It stays ended once the broker is back.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(client.connected).toBe(false);
      });
    });
  }

  // The third broker implementation, at the levels it supports (QoS 0 and 1, MQTT 3.1.1).
  describe(`MQTT reconnection, NATS (${runtime})`, () => {
    const victim = mqtt.victims.nats;
    // NATS 2.9 differs from the spec here. A message it sent a subscriber whose connection was lost
    // goes again only after its ack_wait (the harness sets 1 s), not at the reconnection
    // (MQTT-4.4.0-1), so it can arrive after newer ones. And under load it loses some QoS 1 messages
    // it received and acknowledged shortly before a restart (SIGTERM): 100 to 600 of the first
    // 667 of 2,000 in 5 of 10 runs with MQTT.js as the publisher, in 2 of 8 with ours. Checked:
    // every publish() completes (the broker acknowledged each), our publisher's order on the wire,
    // and every message published after the restart reaching the subscriber.
    it("a restart in the middle of a QoS 1 stream: every publish acknowledged, written in publish() order on every connection; what is published after the restart all arrives", async () => {
      const n = 2_000;
      const name = (t: string) => `sockkit/rc/${run}/${runtime}/nats/${t}`;
      const open = (id: string, options: Partial<MqttClientOptions> = {}) => {
        const client = createMqttClient({
          connect,
          address: { hostname: "127.0.0.1", port: victim.port },
          clientId: `sk-${run}-${runtime}-nats-${id}`,
          clean: false,
          reconnect: { ...fast, maxOfflineMessages: n },
          ...options,
        });
        clients.push(client);
        return client;
      };
      const subscriber = open("sub");
      const wire = tapMqttWrites(connect, 4);
      const publisher = open("pub", { connect: wire.connect });
      await subscriber.subscribe(name("stream"), { qos: 1 });
      const restartAt = Math.floor(n / 3);
      // Every message published after the restart (see above for the ones before it).
      const arrived = new Promise<void>((resolve, reject) => {
        const missing = new Set(Array.from({ length: n - restartAt - 1 }, (_, k) => restartAt + 1 + k));
        const timeout = setTimeout(
          () => reject(new Error(`${missing.size} messages published after the restart never arrived`)),
          20_000,
        );
        subscriber.onMessage((m) => {
          missing.delete(Number(m.text));
          if (missing.size === 0) {
            clearTimeout(timeout);
            resolve();
          }
        });
      });
      const reconnected = new Promise<boolean>((resolve) => {
        const stop = publisher.onConnection((event) => {
          if (event.type === "connected" && event.reconnected) (stop(), resolve(event.sessionPresent));
        });
      });
      await publisher.connect();
      const published: Array<Promise<void>> = [];
      for (let i = 0; i < n; i++) {
        published.push(publisher.publish(name("stream"), String(i), { qos: 1 }));
        if (i === restartAt) await sendControl(connect, victim.control, "restart 300");
      }
      await Promise.all(published);
      await arrived;
      expect(await reconnected).toBe(true);
      expect(wire.connections.length).toBeGreaterThan(1);
      for (const written of wire.connections) {
        const sent = written.flatMap((p) =>
          p.type === "publish" ? [Number(new TextDecoder().decode(p.payload))] : [],
        );
        expect(sent).toEqual([...sent].sort((a, b) => a - b));
      }
    }, 60_000); // nats-server takes a second or two to come back with its store
  });
}
