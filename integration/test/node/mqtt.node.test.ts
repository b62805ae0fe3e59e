import { describe, expect, inject, it } from "vitest";
import mqttjs from "mqtt";
import { createConnect } from "@sockkit/adapter-node";
import { createMqttClient } from "@sockkit/core/mqtt";
import { expectInOrder, mqttConformance } from "../../suites/mqtt-conformance.js";
import { mqttLimitsConformance } from "../../suites/mqtt-limits-conformance.js";
import { mqttSessionConformance } from "../../suites/mqtt-session-conformance.js";

const env = inject("mqtt");
mqttConformance({
  runtime: "node",
  connect: createConnect(),
  mqtt: env,
  tlsConnect: createConnect({ tls: { ca: env.mosquittoTls.caCert } }),
  untrustingConnect: createConnect(),
});
mqttSessionConformance({ runtime: "node", connect: createConnect(), mqtt: env });
mqttLimitsConformance({ runtime: "node", connect: createConnect(), mqtt: env });

describe("interop with MQTT.js on the same broker (Node)", () => {
  for (const protocolVersion of [4, 5] as const) {
    it(`our publish reaches an MQTT.js subscriber and back (MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"})`, async () => {
      const theirs = await mqttjs.connectAsync(`mqtt://127.0.0.1:${env.mosquitto}`, { protocolVersion });
      const ours = createMqttClient({
        connect: createConnect(),
        address: `127.0.0.1:${env.mosquitto}`,
        protocolVersion,
      });
      try {
        await theirs.subscribeAsync("interop/to-them", { qos: 2 });
        await ours.subscribe("interop/to-us", { qos: 2 });
        const theyGot = new Promise<string>((resolve) =>
          theirs.once("message", (_t, payload) => resolve(payload.toString())),
        );
        const weGot = new Promise<string>((resolve) => {
          const stop = ours.onMessage((m) => (stop(), resolve(m.text)));
        });
        // A leading U+FEFF is payload, not a byte-order mark: both sides keep it.
        await ours.publish("interop/to-them", "\uFEFFfrom sockkit", { qos: 2 });
        expect(await theyGot).toBe("\uFEFFfrom sockkit");
        await theirs.publishAsync("interop/to-us", "\uFEFFfrom MQTT.js", { qos: 2 });
        expect(await weGot).toBe("\uFEFFfrom MQTT.js");
      } finally {
        await ours.end();
        await theirs.endAsync();
      }
    });
  }
});

describe("bursts from our client to an MQTT.js subscriber, at both clients' defaults (Node)", () => {
  const brokers = [
    ["Aedes", env.aedes, 4],
    ["Mosquitto", env.mosquitto, 4],
    ["Mosquitto", env.mosquitto, 5],
  ] as const;
  for (const [broker, port, protocolVersion] of brokers) {
    for (const qos of [0, 1, 2, "mixed"] as const) {
      it(`${broker}, MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"}: 10,000 ${qos === "mixed" ? "publishes of QoS 0, 1 and 2 in turn" : `QoS ${qos} publishes`} at once arrive once each, in publish() order per QoS`, async () => {
        const theirs = await mqttjs.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion, reconnectPeriod: 0 });
        const ours = createMqttClient({ connect: createConnect(), address: `127.0.0.1:${port}`, protocolVersion });
        const topic = `interop/burst/${Math.random().toString(36).slice(2)}`;
        const n = 10_000;
        const levelOf = (i: number) => (qos === "mixed" ? ((i % 3) as 0 | 1 | 2) : qos);
        try {
          await theirs.subscribeAsync(topic, { qos: 2 });
          const got: Array<[number, number]> = [];
          const all = new Promise<void>((resolve, reject) => {
            const timeout = setTimeout(() => reject(new Error(`only ${got.length} of ${n} arrived`)), 20_000);
            theirs.on("message", (_topic, payload, packet) => {
              got.push([Number(payload.toString()), packet.qos]);
              if (got.length === n) {
                clearTimeout(timeout);
                resolve();
              }
            });
          });
          await Promise.all(Array.from({ length: n }, (_, i) => ours.publish(topic, String(i), { qos: levelOf(i) })));
          await all;
          for (const level of [0, 1, 2]) {
            // The level's messages, numbered 0, 1, 2… in the order they were published.
            const arrived = got.filter(([, q]) => q === level).map(([i]) => (qos === "mixed" ? (i - level) / 3 : i));
            const sent = qos === "mixed" ? Math.ceil((n - level) / 3) : qos === level ? n : 0;
            expectInOrder(arrived, sent);
          }
        } finally {
          await ours.end();
          await theirs.endAsync();
        }
      });
    }
  }
});

// Node only: 70,000 QoS 1 round trips take seconds on Node and far longer in workerd's test pool.
describe("packet identifiers (Node)", () => {
  it("wrap around after 65,535: 70,000 QoS 1 messages in a row all complete", async () => {
    const client = createMqttClient({
      connect: createConnect(),
      address: `127.0.0.1:${env.mosquitto}`,
      maxInFlight: 1000,
    });
    try {
      // An identifier past 65,535 would be refused when encoded, rejecting its publish.
      let done = 0;
      for (let batch = 0; batch < 70; batch++) {
        await Promise.all(
          Array.from({ length: 1000 }, () => client.publish("sockkit/ids", "x", { qos: 1 }).then(() => done++)),
        );
      }
      expect(done).toBe(70_000);
    } finally {
      await client.end();
    }
  });
});
