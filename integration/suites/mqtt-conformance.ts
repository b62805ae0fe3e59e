/**
 * The MQTT client against real brokers (Aedes in-process, Mosquitto) and
 * misbehaving fakes, run in workerd and on Node.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import {
  createMemoryStore,
  createMqttClient,
  type MqttClient,
  type MqttClientOptions,
  type MqttMessage,
  type ProtocolVersion,
} from "@sockkit/core/mqtt";
import { rejection, waitUntil } from "../harness/shared/promises.js";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import type { RuntimeName } from "./runtimes.js";

export interface MqttConformanceOptions {
  runtime: RuntimeName;
  connect: Connect;
  mqtt: MqttTestEnv;
  /** A `connect` that trusts the test CA (workerd's does through miniflare's outbound settings). @default connect */
  tlsConnect?: Connect;
  /** On Node: a `connect` that trusts only the system CAs, for the refusal of the test CA's certificate. */
  untrustingConnect?: Connect;
}

/** `got` is 0..n-1, each once, in order (the first place it differs is named). */
export function expectInOrder(got: number[], n: number): void {
  const first = got.findIndex((value, i) => value !== i);
  expect(
    first,
    first === -1
      ? ""
      : `position ${first} holds ${got[first]}: ${got.slice(Math.max(0, first - 3), first + 3).join(", ")}`,
  ).toBe(-1);
  expect(got.length).toBe(n);
}

export function mqttConformance({
  runtime,
  connect,
  mqtt,
  tlsConnect = connect,
  untrustingConnect,
}: MqttConformanceOptions): void {
  const clients: MqttClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeoutMs: 1000 })));
  });
  const run = Math.random().toString(36).slice(2, 8);

  // Three broker implementations; what one lacks is a capability, checked in its own test below.
  const brokers: Array<[name: string, port: number, version: ProtocolVersion, maxQoS: 1 | 2]> = [
    ["Aedes", mqtt.aedes, 4, 2],
    ["Mosquitto", mqtt.mosquitto, 4, 2],
    ["Mosquitto", mqtt.mosquitto, 5, 2],
    // NATS 2.9's MQTT listener: MQTT 3.1.1, QoS 0 and 1 only.
    ["NATS", mqtt.nats, 4, 1],
  ];

  for (const [broker, port, protocolVersion, maxQoS] of brokers) {
    const levels = maxQoS === 2 ? ([0, 1, 2] as const) : ([0, 1] as const);
    describe(`MQTT client, ${broker}, MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"} (${runtime})`, () => {
      const open = (options: Partial<MqttClientOptions> = {}) => {
        const client = createMqttClient({
          connect,
          address: { hostname: "127.0.0.1", port },
          protocolVersion,
          ...options,
        });
        clients.push(client);
        return client;
      };
      const topic = (name: string) => `sockkit/${run}/${runtime}/${broker}/${protocolVersion}/${name}`;
      /** Collects `count` messages (fails after 20 s instead of hanging). */
      const collect = (client: MqttClient, count: number) =>
        new Promise<MqttMessage[]>((resolve, reject) => {
          const got: MqttMessage[] = [];
          const timeout = setTimeout(
            () => reject(new Error(`only ${got.length} of ${count} messages arrived`)),
            20_000,
          );
          const stop = client.onMessage((m) => {
            got.push(m);
            if (got.length === count) {
              clearTimeout(timeout);
              stop();
              resolve(got);
            }
          });
        });

      // Order is guaranteed per topic and QoS only (MQTT 3.1.1 §4.6): Aedes may forward a QoS 2
      // message ahead of a QoS 1 one on another topic, so they are compared by topic.
      it(`connects, and QoS ${levels.join(", ")} messages reach a subscriber byte for byte`, async () => {
        const subscriber = open();
        const publisher = open();
        expect(await subscriber.connect()).toMatchObject({ sessionPresent: false });
        // A broker without QoS 2 grants less (NATS: 1), as SUBACK allows.
        expect(await subscriber.subscribe(topic("q/+"), { qos: 2 })).toEqual([maxQoS]);
        const arriving = collect(subscriber, levels.length);
        const binary = new Uint8Array([0, 1, 2, 255, 13, 10]);
        await publisher.publish(topic("q/0"), "zero ☃", { qos: 0 });
        await publisher.publish(topic("q/1"), binary, { qos: 1 });
        if (maxQoS === 2) await publisher.publish(topic("q/2"), "two", { qos: 2 });
        const got = (await arriving).sort((a, b) => (a.topic < b.topic ? -1 : 1));
        expect(got.map((m) => [m.topic, m.qos])).toEqual(levels.map((qos) => [topic(`q/${qos}`), qos]));
        expect(got[0]!.text).toBe("zero ☃");
        expect(got[1]!.payload).toEqual(binary);
      });

      // Bursts bigger than every window and queue, at the defaults a user gets: MQTT §4.6 makes
      // each topic an ordered topic, so each QoS level's messages arrive as they were published.
      for (const qos of levels) {
        it(`a burst of 10,000 QoS ${qos} publishes at once, at the defaults: each message once, in publish() order`, async () => {
          const subscriber = open();
          const publisher = open();
          await subscriber.subscribe(topic(`burst/${qos}`), { qos: 2 });
          const n = 10_000;
          const arriving = collect(subscriber, n);
          await Promise.all(
            Array.from({ length: n }, (_, i) => publisher.publish(topic(`burst/${qos}`), String(i), { qos })),
          );
          expectInOrder(
            (await arriving).map((m) => Number(m.text)),
            n,
          );
        });
      }

      it(`a mixed burst of 10,000 (QoS ${levels.join(", ")} in turn) on one topic: each level's messages once, in publish() order`, async () => {
        const subscriber = open();
        const publisher = open();
        await subscriber.subscribe(topic("burst/mixed"), { qos: maxQoS });
        const n = 10_000;
        const k = levels.length;
        const arriving = collect(subscriber, n);
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            publisher.publish(topic("burst/mixed"), String(i), { qos: (i % k) as 0 | 1 | 2 }),
          ),
        );
        const got = await arriving;
        for (const qos of levels) {
          const level = got.filter((m) => m.qos === qos).map((m) => Number(m.text));
          expect(level.every((i) => i % k === qos)).toBe(true);
          expectInOrder(
            level.map((i) => (i - qos) / k),
            Math.ceil((n - qos) / k),
          );
        }
      });

      it("retained messages reach a later subscriber with the retain flag", async () => {
        const publisher = open();
        await publisher.publish(topic("retained"), "kept", { qos: 1, retain: true });
        const subscriber = open();
        const arriving = collect(subscriber, 1);
        await subscriber.subscribe(topic("retained"), { qos: 1 });
        expect(await arriving).toMatchObject([{ topic: topic("retained"), retain: true }]);
        await publisher.publish(topic("retained"), new Uint8Array(), { qos: 1, retain: true }); // clear it
      });

      it("the will is published when a client vanishes without DISCONNECT", async () => {
        const watcher = open();
        await watcher.subscribe(topic("will"), { qos: 1 });
        const arriving = collect(watcher, 1);
        const doomed = open({ will: { topic: topic("will"), payload: "gone", qos: 1 } });
        await doomed.connect();
        doomed.destroy(); // the socket closes without DISCONNECT
        expect((await arriving)[0]!.text).toBe("gone");
      });

      it("messages(): an async iterator filtered by topic, ended by end()", async () => {
        const client = open();
        await client.subscribe(topic("it/#"), { qos: 1 });
        const iterator = client.messages(topic("it/a"));
        await client.publish(topic("it/b"), "skip", { qos: 1 });
        await client.publish(topic("it/a"), "take", { qos: 1 });
        const first = await iterator.next();
        expect(first).toMatchObject({ done: false, value: { topic: topic("it/a") } });
        const ending = client.end();
        expect(await iterator.next()).toEqual({ done: true, value: undefined });
        await ending;
      });

      if (protocolVersion === 5)
        it("autoTopicAlias: the broker resolves the aliases, and a subscriber gets every message with its topic, in order", async () => {
          const subscriber = open();
          const publisher = open({ autoTopicAlias: true });
          const { properties } = await publisher.connect();
          expect(properties?.topicAliasMaximum).toBeGreaterThan(0); // else no alias would be used
          await subscriber.subscribe(topic("alias/+"), { qos: 1 });
          const arriving = collect(subscriber, 6);
          const sent = ["a", "b", "a", "a", "b", "a"];
          for (const [i, name] of sent.entries())
            await publisher.publish(topic(`alias/${name}`), `${i}`, { qos: i === 3 ? 0 : 1 });
          expect((await arriving).map((m) => [m.topic, m.text])).toEqual(
            sent.map((name, i) => [topic(`alias/${name}`), `${i}`]),
          );
        });

      it("unsubscribe stops delivery", async () => {
        const client = open();
        await client.subscribe(topic("unsub"), { qos: 1 });
        const codes = await client.unsubscribe(topic("unsub"));
        expect(codes).toEqual(protocolVersion === 5 ? [0] : []);
        let received = 0;
        client.onMessage(() => received++);
        await client.publish(topic("unsub"), "x", { qos: 1 });
        await client.publish(topic("other"), "y", { qos: 1 }); // a round trip after it
        expect(received).toBe(0);
      });

      it("end() lets QoS flows finish, then DISCONNECT; afterwards everything rejects with ECLOSED", async () => {
        const client = open();
        await client.connect();
        const flows = Array.from({ length: 50 }, (_, i) => client.publish(topic("end"), String(i), { qos: maxQoS }));
        await client.end();
        await Promise.all(flows);
        expect(await rejection(client.publish(topic("end"), "late"))).toMatchObject({ code: "ECLOSED" });
      });

      it("a packet the encoder refuses rejects its publish and frees its packet id; end() still settles", async () => {
        const client = open();
        await client.connect();
        const properties = protocolVersion === 5 ? { messageExpiryInterval: -1 } : undefined;
        const bad = client.publish(topic("bad"), "x", { qos: 1, ...(properties ? { properties } : {}) });
        if (protocolVersion === 5) await expect(bad).rejects.toThrow(TypeError);
        else await bad;
        await client.publish(topic("bad"), "after", { qos: 1 });
        await client.end();
      });

      // Shared subscriptions (MQTT 5 §4.8.2; Mosquitto takes them on 3.1.1 too): the way to scale consumers out.
      if (broker === "Mosquitto")
        it("a shared subscription ($share/group/filter) splits a stream between the group: every message once, to one of them", async () => {
          const group = `g${run}${protocolVersion}`;
          const consumers = [open(), open(), open()];
          const got = consumers.map(() => [] as number[]);
          consumers.forEach((c, i) => c.onMessage((m) => got[i]!.push(Number(m.text))));
          for (const c of consumers)
            expect(await c.subscribe(`$share/${group}/${topic("shared/+")}`, { qos: 1 })).toEqual([1]);
          const publisher = open();
          const n = 3_000;
          await Promise.all(
            Array.from({ length: n }, (_, i) => publisher.publish(topic(`shared/${i % 7}`), String(i), { qos: 1 })),
          );
          await waitUntil(() => got.reduce((sum, list) => sum + list.length, 0) >= n, 10_000);
          const all = got.flat().sort((a, b) => a - b);
          expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
          for (const list of got) expect(list.length).toBeGreaterThan(0); // each took a share
        });

      if (maxQoS === 1)
        it(`${broker} has no QoS 2, and MQTT 3.1.1 no way to refuse a QoS 2 PUBLISH: it closes the connection, and the publish rejects with ECLOSED`, async () => {
          const client = open();
          await client.connect();
          expect(await rejection(client.publish(topic("qos2"), "x", { qos: 2 }))).toMatchObject({ code: "ECLOSED" });
          await client.closed; // without reconnect, a lost connection finishes the client
        });

      it("bad input is a TypeError before anything is sent", async () => {
        const client = open();
        await expect(client.publish("a/#", "x")).rejects.toThrow(/wildcard/);
        await expect(client.publish("", "x")).rejects.toThrow(/empty/);
        await expect(client.publish("a", "x", { qos: 3 as never })).rejects.toThrow(/QoS/);
        await expect(client.subscribe("a/#/b")).rejects.toThrow(/#/);
        await expect(client.subscribe([])).rejects.toThrow(/at least one/);
        expect(() => createMqttClient({ connect, keepalive: -1 })).toThrow(TypeError);
        expect(() => createMqttClient({ connect, url: "http://x" })).toThrow(/scheme/);
        expect(() => createMqttClient({ connect, reconnect: { baseDelayMs: -1 } })).toThrow(/reconnect.baseDelayMs/);
        expect(() => createMqttClient({ connect, reconnect: { maxDelayMs: Infinity } })).toThrow(
          /reconnect.maxDelayMs/,
        );
        expect(() => createMqttClient({ connect, store: { put() {} } as never })).toThrow(/store must have/);
        expect(() => createMqttClient({ connect, autoTopicAlias: true })).toThrow(/protocolVersion 5/);
        expect(() => createMqttClient({ connect, protocolVersion: 5, autoTopicAlias: "yes" as never })).toThrow(
          /autoTopicAlias must be a boolean/,
        );
        expect(() => client.onParked("x" as never)).toThrow(TypeError);
        expect(() => createMqttClient({ connect, auth: { method: "X" } })).toThrow(/protocolVersion 5/);
        expect(() => createMqttClient({ connect, protocolVersion: 5, auth: { method: "" } })).toThrow(/auth.method/);
        await expect(client.reauthenticate()).rejects.toThrow(TypeError);
        expect(() => createMqttClient({ connect, protocolVersion: 5, topicAliasMaximum: 1.5 })).toThrow(
          /topicAliasMaximum/,
        );
        const aliasing = createMqttClient({ connect, protocolVersion: 5, autoTopicAlias: true });
        await expect(aliasing.publish("a", "x", { properties: { topicAlias: 1 } })).rejects.toThrow(/autoTopicAlias/);
        expect(() => client.onConnection("x" as never)).toThrow(TypeError);
      });
    });
  }

  describe(`MQTT client against a Mosquitto that limits QoS and retain (MQTT 5.0, ${runtime})`, () => {
    it("refuses what the CONNACK rules out with the broker's reason code, and keeps the connection", async () => {
      const client = createMqttClient({
        connect,
        address: { hostname: "127.0.0.1", port: mqtt.mosquittoLimited },
        protocolVersion: 5,
      });
      clients.push(client);
      await client.connect();
      const base = `sockkit/${run}/${runtime}/limited`;
      await expect(client.publish(`${base}/q2`, "x", { qos: 2 })).rejects.toMatchObject({
        code: "EREPLY",
        reasonCode: 0x9b,
        message: expect.stringMatching(/QoS up to 1/),
      });
      await expect(client.publish(`${base}/r`, "x", { qos: 1, retain: true })).rejects.toMatchObject({
        code: "EREPLY",
        reasonCode: 0x9a,
      });
      // Nothing was sent for them: the connection is still up and what is allowed goes through.
      expect(await client.subscribe(`${base}/ok`, { qos: 1 })).toEqual([1]);
      const arriving = new Promise<MqttMessage>((resolve) => {
        const stop = client.onMessage((m) => (stop(), resolve(m)));
      });
      await client.publish(`${base}/ok`, "allowed", { qos: 1 });
      expect((await arriving).text).toBe("allowed");
      expect(client.connected).toBe(true);
    });

    it("keeps an earlier client's stored QoS 2 message, unsent, instead of being disconnected for it", async () => {
      const base = `sockkit/${run}/${runtime}/limited-store`;
      const store = createMemoryStore();
      const payload = new TextEncoder().encode("left by an earlier client");
      store.put({ type: "publish", topic: `${base}/q2`, payload, qos: 2, retain: false, dup: false, packetId: 7 });
      const events: string[] = [];
      const client = createMqttClient({
        connect,
        address: { hostname: "127.0.0.1", port: mqtt.mosquittoLimited },
        protocolVersion: 5,
        store,
      });
      clients.push(client);
      client.onConnection((event) => events.push(event.type));
      client.onParked((parked) => events.push(`parked ${parked.packetId} 0x${parked.error.reasonCode.toString(16)}`));
      await client.connect();
      // Mosquitto answers a QoS 2 PUBLISH with DISCONNECT 0x9B: a round trip after the resume
      // shows the connection is still up, and the message still stored for a broker that takes it.
      expect(await client.subscribe(`${base}/ok`, { qos: 1 })).toEqual([1]);
      await client.publish(`${base}/ok`, "after", { qos: 1 });
      expect(client.connected).toBe(true);
      expect(events).toEqual(["connected", "parked 7 0x9b"]); // reported, not sent
      expect(store.size).toBe(1);
      expect([...(store.list() as Iterable<{ packetId: number }>)].map((p) => p.packetId)).toEqual([7]);
    });
  });

  describe(`MQTT client disposal (${runtime})`, () => {
    it("await using: the client is ended when its block ends, also when the block throws", async () => {
      const used: MqttClient[] = [];
      {
        await using client = createMqttClient({
          connect,
          address: { hostname: "127.0.0.1", port: mqtt.mosquitto },
          protocolVersion: 5,
        });
        used.push(client);
        await client.publish(`sockkit/${run}/${runtime}/using`, "x", { qos: 1 });
        expect(client.connected).toBe(true);
      }
      const thrown = await (async () => {
        await using client = createMqttClient({
          connect,
          address: { hostname: "127.0.0.1", port: mqtt.mosquitto },
          protocolVersion: 5,
        });
        used.push(client);
        await client.connect();
        throw new Error("the block failed");
      })().catch((error: Error) => error.message);
      expect(thrown).toBe("the block failed");
      for (const client of used) {
        expect(client.connected).toBe(false);
        await expect(client.publish("x", "y")).rejects.toMatchObject({ code: "ECLOSED" });
      }
    });
  });

  describe(`MQTT client over TLS: mqtts:// against a Mosquitto with a TLS listener (${runtime})`, () => {
    for (const protocolVersion of [4, 5] as const) {
      it(`MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"}: an mqtts:// URL connects with TLS (certificate and host name checked), and a message goes round`, async () => {
        const client = createMqttClient({
          connect: tlsConnect,
          url: `mqtts://localhost:${mqtt.mosquittoTls.port}`,
          protocolVersion,
        });
        clients.push(client);
        const name = `sockkit/${run}/${runtime}/tls/${protocolVersion}`;
        await client.subscribe(name, { qos: 1 });
        const got = new Promise<string>((resolve) => client.onMessage((m) => resolve(m.text)));
        await client.publish(name, "over TLS", { qos: 1 });
        expect(await got).toBe("over TLS");
        await client.end();
      });
    }

    it("a plain mqtt:// connection to the TLS listener fails at once: the broker closes it, ECLOSED", async () => {
      const client = createMqttClient({
        connect,
        url: `mqtt://127.0.0.1:${mqtt.mosquittoTls.port}`,
        connectTimeoutMs: 5000,
      });
      clients.push(client);
      await expect(client.connect()).rejects.toMatchObject({
        code: "ECLOSED",
        message: "the broker closed the connection",
      });
    });

    if (untrustingConnect) {
      it("a certificate from a CA the connection does not trust is refused with ETLS", async () => {
        const client = createMqttClient({
          connect: untrustingConnect,
          url: `mqtts://localhost:${mqtt.mosquittoTls.port}`,
        });
        clients.push(client);
        await expect(client.connect()).rejects.toMatchObject({ code: "ETLS" });
      });
    }
  });

  describe(`MQTT client against a Mosquitto that needs a password (${runtime})`, () => {
    const account = mqtt.mosquittoWithPassword;
    const secured = (options: Partial<MqttClientOptions> = {}) => {
      const client = createMqttClient({
        connect,
        address: { hostname: "127.0.0.1", port: account.port },
        username: account.username,
        ...options,
      });
      clients.push(client);
      return client;
    };
    const fast = { baseDelayMs: 10, maxDelayMs: 50 };

    for (const protocolVersion of [4, 5] as const) {
      it(`MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"}: the password as a string (UTF-8), as bytes or in the URL connects; a wrong or missing one is refused with the broker's code and not retried`, async () => {
        await secured({ protocolVersion, password: account.password }).connect();
        await secured({ protocolVersion, password: new TextEncoder().encode(account.password) }).connect();
        const url = `mqtt://${account.username}:${encodeURIComponent(account.password)}@127.0.0.1:${account.port}`;
        const viaUrl = createMqttClient({ connect, url, protocolVersion });
        clients.push(viaUrl);
        await viaUrl.connect();
        const refused = protocolVersion === 5 ? 0x87 : 5; // Mosquitto says "not authorized" to both
        await expect(secured({ protocolVersion, password: "wrong" }).connect()).rejects.toMatchObject({
          code: "EREPLY",
          reasonCode: refused,
        });
        await expect(secured({ protocolVersion }).connect()).rejects.toMatchObject({
          code: "EREPLY",
          reasonCode: refused,
        });
        let asked = 0;
        const client = secured({ protocolVersion, password: () => (asked++, "wrong"), reconnect: fast });
        await expect(client.connect()).rejects.toMatchObject({ code: "EREPLY", reasonCode: refused });
        expect(asked).toBe(1);
      });
    }

    it("a password function is asked again for every connection: an MQTT 3.1.1 reconnection after a takeover asks it again", async () => {
      const tokens: string[] = [];
      const clientId = `sockkit-${run}-${runtime}-rotating`;
      const client = secured({
        clientId,
        reconnect: fast,
        password: async () => {
          tokens.push(`token ${tokens.length + 1}`);
          return account.password; // the broker knows one password; what is checked is that it was asked
        },
      });
      const events: string[] = [];
      client.onConnection((event) => events.push(event.type));
      await client.connect();
      expect(tokens).toEqual(["token 1"]);
      // Another client with the same id takes the session over; Mosquitto disconnects ours, which
      // reconnects and takes it back (the taker, without reconnect, may lose it before its CONNACK
      // is handled, so its own result is not the point).
      const taker = secured({ clientId, password: account.password });
      void taker.connect().catch(() => {});
      await waitUntil(() => events.length === 3, 5000);
      expect(tokens).toEqual(["token 1", "token 2"]);
      expect(events).toEqual(["connected", "disconnected", "connected"]);
      expect(client.connected).toBe(true);
    });

    it("a password function that fails fails the attempt with ECONNECT (its error as cause), retried; one that returns something else is a TypeError, not retried", async () => {
      let asked = 0;
      const failing = secured({
        password: () => (asked++, Promise.reject(new Error("token service down"))),
        reconnect: { ...fast, retries: 2 },
      });
      const error = await rejection(failing.connect());
      expect(error).toMatchObject({ code: "ECONNECT", message: expect.stringMatching(/password function failed/) });
      expect((error as Error).cause).toMatchObject({ message: "token service down" });
      expect(asked).toBe(3); // the first attempt and two retries
      let wrongAsked = 0;
      const wrong = secured({ password: (() => (wrongAsked++, 42)) as unknown as () => string, reconnect: fast });
      expect(await rejection(wrong.connect())).toBeInstanceOf(TypeError);
      expect(wrongAsked).toBe(1);
      expect(() => createMqttClient({ connect, password: 42 as unknown as string })).toThrow(TypeError);
      expect(() => createMqttClient({ connect, password: "no username" })).toThrow(/only with a username/);
    });

    it("a password function still pending: the deadline fails the attempt with ETIMEDOUT and end() with ECLOSED, both aborting its signal", async () => {
      const signals: AbortSignal[] = [];
      const pending = ({ signal }: { signal: AbortSignal }) => {
        signals.push(signal);
        return new Promise<string>(() => {});
      };
      const slow = secured({ password: pending, connectTimeoutMs: 200 });
      expect(await rejection(slow.connect())).toMatchObject({
        code: "ETIMEDOUT",
        message: expect.stringMatching(/password function did not answer within 200 ms/),
      });
      const ended = secured({ password: pending, connectTimeoutMs: 10_000 });
      const connecting = rejection(ended.connect());
      await new Promise((resolve) => setTimeout(resolve, 50));
      await ended.end({ timeoutMs: 1000 });
      expect(await connecting).toMatchObject({ code: "ECLOSED" });
      await ended.closed;
      expect(signals.map((signal) => signal.aborted)).toEqual([true, true]);
    });
  });

  describe(`MQTT client against misbehaving brokers (${runtime})`, () => {
    const fake = (port: number, options: Partial<MqttClientOptions> = {}) => {
      const client = createMqttClient({ connect, address: { hostname: "127.0.0.1", port }, ...options });
      clients.push(client);
      return client;
    };

    it("a broker that stops reading: destroy() rejects the backed-up QoS 0 publishes and closes at once", async () => {
      const client = fake(mqtt.fakes.stalled, { keepalive: 0 });
      await client.connect();
      const payload = new Uint8Array(64 * 1024);
      const backlog = Array.from({ length: 400 }, () => client.publish("stalled", payload));
      for (const pending of backlog) pending.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 200));
      client.destroy();
      const settled = await Promise.allSettled(backlog);
      expect(settled.filter((s) => s.status === "rejected").length).toBeGreaterThan(0);
      for (const s of settled) if (s.status === "rejected") expect(s.reason).toMatchObject({ code: "ECLOSED" });
      await client.closed;
    });

    it("a broker that goes silent is noticed within 1.5× the keepalive, even while publishing QoS 0", async () => {
      const client = fake(mqtt.fakes.silent, { keepalive: 1 });
      await client.connect();
      const started = Date.now();
      // Keep sending: outgoing traffic must not hide the broker's silence.
      const publishing = setInterval(() => client.publish("busy", "x").catch(() => {}), 100);
      await client.closed;
      clearInterval(publishing);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(1500 + 400);
      expect(await rejection(client.publish("after", "x"))).toMatchObject({ code: "ETIMEDOUT" });
    });

    it("garbage from the broker closes the connection with EPROTOCOL; open flows reject", async () => {
      const client = fake(mqtt.fakes.garbage);
      await client.connect();
      const flow = client.publish("t", "x", { qos: 1 });
      expect(await rejection(flow)).toMatchObject({ code: "EPROTOCOL" });
    });

    it("a packet over maxPacketSize is refused from its header (ETOOLARGE)", async () => {
      const client = fake(mqtt.fakes.huge, { maxPacketSize: 64 * 1024 });
      await client.connect();
      const flow = client.publish("t", "x", { qos: 1 });
      expect(await rejection(flow)).toMatchObject({ code: "ETOOLARGE" });
    });

    it("a refused TCP connection rejects connect() with ECONNECT", async () => {
      const client = createMqttClient({ connect, url: "mqtt://127.0.0.1:1", connectTimeoutMs: 5000 });
      expect(await rejection(client.connect())).toMatchObject({ code: "ECONNECT" });
    });
  });
}
