/**
 * MQTT session resumption, packet by packet, against a scripted broker (mqtt-session-fake.ts),
 * run in workerd and on Node.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  createMemoryStore,
  createMqttClient,
  type MqttClient,
  type MqttConnectionEvent,
  type MqttStore,
  type StoredPacket,
} from "@sockkit/core/mqtt";
import { queryControl } from "../harness/shared/control-client.js";
import type { SessionFakeLog } from "../harness/node/mqtt-session-fake.js";
import { rejection, waitUntil } from "../harness/shared/promises.js";
import type { MqttReconnectConformanceOptions } from "./mqtt-reconnect-conformance.js";

export function mqttSessionConformance({ runtime, connect, mqtt }: MqttReconnectConformanceOptions): void {
  const clients: MqttClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeoutMs: 1000 })));
  });
  const run = Math.random().toString(36).slice(2, 8);
  const fast = { baseDelayMs: 20, maxDelayMs: 200 };

  describe(`MQTT session resumption, packet by packet, against a scripted broker (${runtime})`, () => {
    // Also with a store that answers later (as Durable Object storage does): nothing is sent before it is saved.
    const slowStore = (): MqttStore => {
      const memory = createMemoryStore();
      const later = <T>(value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), 5));
      return {
        put: async (p: StoredPacket) => void (await later(memory.put(p))),
        delete: async (id: number) => void (await later(memory.delete(id))),
        list: async () => later(await memory.list()),
      };
    };
    it.each([["in memory"], ["with a store that answers later"]])(
      "after a lost connection (%s): a QoS 2 repeat before PUBREL is acknowledged, not delivered; unacknowledged QoS 1 goes again with DUP and its id; a PUBREC'd QoS 2 gets only its PUBREL",
      async (variant) => {
        const clientId = `sk-fake-${run}-${runtime}-${variant === "in memory" ? "m" : "s"}`;
        const client = createMqttClient({
          connect,
          address: { hostname: "127.0.0.1", port: mqtt.sessionFake.port },
          clientId,
          clean: false,
          reconnect: fast,
          ...(variant === "in memory" ? {} : { store: slowStore() }),
        });
        clients.push(client);
        const delivered: string[] = [];
        client.onMessage((m) => delivered.push(m.text));
        const reconnected = new Promise<MqttConnectionEvent>((resolve) =>
          client.onConnection((e) => e.type === "connected" && e.reconnected && resolve(e)),
        );
        await client.connect();
        const flows = [client.publish("fake/a", "a", { qos: 1 }), client.publish("fake/b", "b", { qos: 2 })];
        expect(await reconnected).toMatchObject({ sessionPresent: true });
        await Promise.all(flows);
        // PUBCOMP 7 is the client's last packet of the script: wait for the broker to have it.
        let log: SessionFakeLog = { connections: [] };
        for (let i = 0; i < 100; i++) {
          log = JSON.parse(await queryControl(connect, mqtt.sessionFake.control, `log ${clientId}`)) as SessionFakeLog;
          if (log.connections[1]?.some((p) => p.cmd === "pubcomp")) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(delivered).toEqual(["once"]);
        expect(log.connections).toHaveLength(2);
        const [first, second] = log.connections as [
          SessionFakeLog["connections"][number],
          SessionFakeLog["connections"][number],
        ];
        const a = first.find((p) => p.cmd === "publish" && p.qos === 1)!;
        const b = first.find((p) => p.cmd === "publish" && p.qos === 2)!;
        expect(a).toMatchObject({ dup: false, payload: "a" });
        expect(first).toContainEqual({ cmd: "pubrel", messageId: b.messageId });
        const resent = second.filter((p) => p.cmd !== "pingreq");
        expect(resent).toEqual(
          expect.arrayContaining([
            { cmd: "pubrec", messageId: 7 },
            { cmd: "pubcomp", messageId: 7 },
            { cmd: "publish", messageId: a.messageId, qos: 1, dup: true, payload: "a" },
            { cmd: "pubrel", messageId: b.messageId },
          ]),
        );
        // Nothing else: no second PUBLISH of "b" (the broker has it), nothing new.
        expect(resent).toHaveLength(4);
      },
    );

    it("end() past its deadline with a QoS 1 flow still open: DISCONNECT all the same, and the flow rejects with ECLOSED", async () => {
      // On its first connection the scripted broker never acknowledges a QoS 1 PUBLISH. A
      // DISCONNECT, not a dropped connection, is what keeps a broker from publishing the will.
      const clientId = `end-deadline-${run}-${runtime}`;
      const client = createMqttClient({
        connect,
        address: { hostname: "127.0.0.1", port: mqtt.sessionFake.port },
        clientId,
        clean: false,
      });
      clients.push(client);
      await client.connect();
      const open = client.publish("fake/a", "a", { qos: 1 });
      open.catch(() => {});
      await client.end({ timeoutMs: 300 });
      expect(await rejection(open)).toMatchObject({
        code: "ECLOSED",
        message: expect.stringContaining("still open after 300 ms"),
      });
      let sent: string[] = [];
      await waitUntil(async () => {
        const log = JSON.parse(
          await queryControl(connect, mqtt.sessionFake.control, `log ${clientId}`),
        ) as SessionFakeLog;
        return (sent = (log.connections[0] ?? []).map((p) => p.cmd)).includes("disconnect");
      });
      expect(sent).toEqual(expect.arrayContaining(["publish", "disconnect"]));
    });

    it("after a lost connection to a broker that lost the session: the QoS 2 message past PUBREC rejects (delivery unknown); the QoS 1 one is published again as new", async () => {
      const clientId = `lost-${run}-${runtime}`;
      const client = createMqttClient({
        connect,
        address: { hostname: "127.0.0.1", port: mqtt.sessionFake.port },
        clientId,
        clean: false,
        reconnect: fast,
      });
      clients.push(client);
      const reconnected = new Promise<MqttConnectionEvent>((resolve) =>
        client.onConnection((e) => e.type === "connected" && e.reconnected && resolve(e)),
      );
      await client.connect();
      const a = client.publish("fake/a", "a", { qos: 1 });
      const b = client.publish("fake/b", "b", { qos: 2 });
      b.catch(() => {});
      expect(await reconnected).toMatchObject({ sessionPresent: false });
      await a;
      expect(await rejection(b)).toMatchObject({ code: "ECLOSED", message: expect.stringContaining("unknown") });
      const log = JSON.parse(
        await queryControl(connect, mqtt.sessionFake.control, `log ${clientId}`),
      ) as SessionFakeLog;
      const resent = log.connections[1]!.filter((p) => p.cmd !== "pingreq");
      expect(resent).toEqual([{ cmd: "publish", messageId: expect.any(Number), qos: 1, dup: false, payload: "a" }]);
    });
  });
}
