import { afterAll, describe, expect, inject, it } from "vitest";
import mqttjs from "mqtt";
import { createConnect } from "@sockkit/adapter-node";
import { createMqttClient } from "@sockkit/core/mqtt";
import { mqttConformance } from "../../suites/mqtt-conformance.js";

// Registered first so it runs last (after hooks run in reverse): after the suite has ended its clients.
afterAll(async () => {
  const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
  for (let i = 0; i < 40 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours()).toEqual([]);
});

const env = inject("mqtt");
mqttConformance({
  runtime: "node",
  connect: createConnect(),
  mqtt: env,
  tlsConnect: createConnect({ tls: { ca: env.mosquittoTls.caCert } }),
  untrustingConnect: createConnect(),
});

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
