// examples/mqtt-durable-object inside workerd: its MqttStore on real Durable Object storage, and
// the bridge object publishing over RPC, against the harness's Aedes brokers.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { connect } from "cloudflare:sockets";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createMqttClient, type MqttClient, type StoredPacket } from "@sockkit/core/mqtt";
import { durableObjectStore } from "../../../examples/mqtt-durable-object/src/store.js";
import type { Env } from "../../../examples/mqtt-durable-object/src/index.js";
import { sendControl } from "../../harness/shared/control-client.js";

const mqtt = inject("mqtt");
const bridges = (env as unknown as Env).BRIDGE;
const clients: MqttClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end({ timeoutMs: 1000 })));
});
const run = Math.random().toString(36).slice(2, 8);
const publish = (packetId: number, qos: 1 | 2, text: string): StoredPacket => ({
  type: "publish",
  topic: "t",
  payload: new TextEncoder().encode(text),
  qos,
  retain: false,
  dup: false,
  packetId,
});

describe("examples/mqtt-durable-object (workerd)", () => {
  it("its store on Durable Object storage: oldest first across wrapped ids, PUBREL in its message's place, bytes intact, delete forgets", async () => {
    await runInDurableObject(bridges.get(bridges.idFromName(`store-${run}`)), async (_bridge, state) => {
      const store = durableObjectStore(state.storage);
      await store.put(publish(65535, 2, "first"));
      await store.put(publish(1, 1, "second"));
      await store.put({ type: "pubrel", packetId: 65535 });
      await store.put(publish(2, 2, "third"));
      let listed = [...(await store.list())];
      expect(listed.map((p) => p.packetId)).toEqual([65535, 1, 2]);
      expect(listed[0]).toEqual({ type: "pubrel", packetId: 65535 });
      expect(listed[1]).toMatchObject({ type: "publish", qos: 1 });
      expect(new TextDecoder().decode((listed[1] as { payload: Uint8Array }).payload)).toBe("second");
      await store.delete(65535);
      await store.delete(1);
      listed = [...(await store.list())];
      expect(listed.map((p) => p.packetId)).toEqual([2]);
      // A second store on the same storage (an object woken again) sees the same.
      expect([...(await durableObjectStore(state.storage).list())].map((p) => p.packetId)).toEqual([2]);
    });
  });

  it("a message left unacknowledged by one client is sent by the next one from the object's storage", async () => {
    const control = (command: string) => sendControl(connect, mqtt.victims.aedes.control, command);
    const address = { hostname: "127.0.0.1", port: mqtt.victims.aedes.port };
    const subscriber = createMqttClient({
      connect,
      address,
      clientId: `do-sub-${run}`,
      clean: false,
      reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
    });
    clients.push(subscriber);
    await subscriber.subscribe(`do/${run}`, { qos: 1 });
    const arrived = new Promise<string>((resolve) => subscriber.onMessage((m) => resolve(m.text)));
    const clientId = `do-pub-${run}`;
    await runInDurableObject(bridges.get(bridges.idFromName(`left-${run}`)), async (_bridge, state) => {
      const store = durableObjectStore(state.storage);
      const first = createMqttClient({
        connect,
        address,
        clientId,
        clean: false,
        reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
        store,
      });
      await first.connect();
      await control("stop");
      try {
        const lost = first.publish(`do/${run}`, "kept in storage", { qos: 1 });
        lost.catch(() => {});
        for (let i = 0; i < 50 && [...(await store.list())].length === 0; i++)
          await new Promise((resolve) => setTimeout(resolve, 10));
        first.destroy(); // the object was evicted
        await expect(lost).rejects.toMatchObject({ code: "ECLOSED" });
      } finally {
        await control("start");
      }
      expect([...(await store.list())]).toHaveLength(1);
      // Its socket belongs to this object: it must be ended here, not from the test's afterAll.
      const second = createMqttClient({ connect, address, clientId, clean: false, store });
      try {
        await second.connect();
        expect(await arrived).toBe("kept in storage");
        for (let i = 0; i < 50 && [...(await store.list())].length > 0; i++)
          await new Promise((resolve) => setTimeout(resolve, 20));
        expect([...(await store.list())]).toEqual([]);
      } finally {
        await second.end({ timeoutMs: 1000 });
      }
    });
  });

  it("the bridge publishes over RPC and its fetch handler refuses bad input", async () => {
    const listener = createMqttClient({ connect, address: { hostname: "127.0.0.1", port: mqtt.aedes } });
    clients.push(listener);
    await listener.subscribe(`bridge/${run}`, { qos: 1 });
    const arrived = new Promise<string>((resolve) => listener.onMessage((m) => resolve(m.text)));
    const bridge = bridges.get(bridges.idFromName(`rpc-${run}`));
    expect(await bridge.publish(`bridge/${run}`, "via the object", 1)).toEqual({ ok: true });
    expect(await arrived).toBe("via the object");
    const bad = await SELF.fetch("http://bridge.test/publish", { method: "POST", body: "not json" });
    expect(bad.status).toBe(400);
    const qos = await SELF.fetch("http://bridge.test/publish", {
      method: "POST",
      body: JSON.stringify({ topic: "t", payload: "p", qos: 3 }),
    });
    expect(await qos.json()).toMatchObject({ error: expect.stringContaining("qos") });
    const viaFetch = await SELF.fetch("http://bridge.test/publish", {
      method: "POST",
      body: JSON.stringify({ topic: `bridge/${run}`, payload: "via fetch", qos: 1 }),
    });
    expect(await viaFetch.json()).toEqual({ ok: true });
  });
});
