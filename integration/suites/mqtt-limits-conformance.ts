/**
 * MQTT 5 limits, topic aliases, enhanced authentication and protocol errors, against a scripted
 * broker whose CONNACK limits change between connections (mqtt-limits-fake.ts), in workerd and on Node.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  createMemoryStore,
  createMqttClient,
  type MqttClient,
  type MqttClientOptions,
  type MqttConnectionEvent,
  type MqttParkedMessage,
} from "@sockkit/core/mqtt";
import { queryControl } from "../harness/shared/control-client.js";
import type { LimitsFakeLog } from "../harness/node/mqtt-limits-fake.js";
import { rejection, waitUntil } from "../harness/shared/promises.js";
import type { MqttReconnectConformanceOptions } from "./mqtt-reconnect-conformance.js";

export function mqttLimitsConformance({ runtime, connect, mqtt }: MqttReconnectConformanceOptions): void {
  const clients: MqttClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeoutMs: 1000 })));
  });
  const run = Math.random().toString(36).slice(2, 8);

  describe(`MQTT 5 limits that change between connections, against a scripted broker (${runtime})`, () => {
    const open = (
      plan:
        | "down"
        | "lim"
        | "up"
        | "noret"
        | "ret"
        | "alias"
        | "auth"
        | "auth-other"
        | "auth-pipe"
        | "auth-nomethod"
        | "auth-late"
        | "auth-eager"
        | "auth-mute"
        | "twice"
        | "win"
        | "emqx"
        | "chat"
        | "garbage"
        | "huge"
        | "flood",
      options: Partial<MqttClientOptions> = {},
    ) => {
      const clientId = `${plan}-${run}-${runtime}-${Math.random().toString(36).slice(2, 8)}`;
      const client = createMqttClient({
        connect,
        address: { hostname: "127.0.0.1", port: mqtt.limitsFake.port },
        protocolVersion: 5,
        clientId,
        clean: false,
        sessionExpiry: 300,
        keepalive: 0,
        ...options,
      });
      clients.push(client);
      // Connection events and parked messages in one sequence, to check their order.
      const events: Array<MqttConnectionEvent | ({ type: "parked" } & MqttParkedMessage)> = [];
      client.onConnection((event) => events.push(event));
      client.onParked((parked) => events.push({ type: "parked", ...parked }));
      const log = async () =>
        JSON.parse(await queryControl(connect, mqtt.limitsFake.control, `log ${clientId}`)) as LimitsFakeLog;
      return { client, events, log };
    };
    const when = (events: Array<{ type: string }>, count: number) =>
      (async () => {
        await waitUntil(() => events.length >= count, 5000);
        expect(events.length, `events: ${JSON.stringify(events.map((e) => e.type))}`).toBeGreaterThanOrEqual(count);
      })();

    it("back with maximumQoS 1 and receive maximum 1: a QoS 2 message published while away is refused (0x9B) and the QoS 1 one behind it still goes out", async () => {
      const { client, events, log } = open("down", { reconnect: { baseDelayMs: 100, maxDelayMs: 200 } });
      await client.connect();
      await client.publish("drop-me", "x");
      await when(events, 2); // connected, disconnected
      const q2 = client.publish("limits/two", "two", { qos: 2 });
      q2.catch(() => {});
      const q1 = client.publish("limits/one", "one", { qos: 1 });
      expect(await rejection(q2)).toMatchObject({
        code: "EREPLY",
        reasonCode: 0x9b,
        message: expect.stringMatching(/QoS up to 1/),
      });
      await q1; // before the fix it waited forever: the refused message had taken the only slot
      expect(events.map((e) => e.type)).toEqual(["connected", "disconnected", "connected"]);
      const second = (await log()).connections[1]!;
      expect(second.filter((p) => p.cmd === "publish")).toEqual([
        { cmd: "publish", messageId: expect.any(Number), qos: 1, dup: false, topic: "limits/one" },
      ]);
    });

    it("back without retained messages (retainAvailable 0): a retained message published while away is refused (0x9A), the plain one behind it goes out", async () => {
      const { client, events, log } = open("noret", { reconnect: { baseDelayMs: 100, maxDelayMs: 200 } });
      await client.connect();
      await client.publish("drop-me", "x");
      await when(events, 2); // connected, disconnected
      const kept = client.publish("limits/kept", "kept", { qos: 1, retain: true });
      kept.catch(() => {});
      const plain = client.publish("limits/plain", "plain", { qos: 1 });
      expect(await rejection(kept)).toMatchObject({
        code: "EREPLY",
        reasonCode: 0x9a,
        message: expect.stringMatching(/retained/),
      });
      await plain;
      expect(events.map((e) => e.type)).toEqual(["connected", "disconnected", "connected"]);
      const second = (await log()).connections[1]!;
      expect(second.filter((p) => p.cmd === "publish").map((p) => p.topic)).toEqual(["limits/plain"]);
    });

    it("back with maximumQoS 1: a QoS 2 message already sent on the lost connection rejects as delivery unknown, not as refused", async () => {
      const { client, events } = open("down", { reconnect: { baseDelayMs: 100, maxDelayMs: 200 } });
      await client.connect();
      const q2 = client.publish("limits/sent", "sent", { qos: 2 }); // no PUBREC on this connection
      q2.catch(() => {});
      await client.publish("drop-me", "x");
      const error = await rejection(q2);
      expect(error).toMatchObject({ code: "ECLOSED", message: expect.stringMatching(/delivered is unknown/) });
      expect((error as Error).cause).toMatchObject({ code: "EREPLY", reasonCode: 0x9b });
      await client.publish("limits/after", "after", { qos: 1 });
      expect(events.map((e) => e.type)).toEqual(["connected", "disconnected", "connected"]);
    });

    it.each([
      ["garbage" as const, "a packet type that does not exist", 0x81, "EPROTOCOL"],
      ["huge" as const, "a PUBLISH over maxPacketSize", 0x95, "ETOOLARGE"],
    ])(
      "MQTT 5: %s from the broker (%s): the client sends DISCONNECT with reason %i, then fails with %s",
      async (plan, _what, reasonCode, code) => {
        const { client, events, log } = open(plan, { maxPacketSize: 64 * 1024 });
        await client.connect();
        await when(events, 2);
        expect(events[1]).toMatchObject({
          type: "disconnected",
          willReconnect: false,
          error: expect.objectContaining({ code }),
        });
        let sent: Array<{ cmd: string; reasonCode?: number }> = [];
        await waitUntil(async () => (sent = (await log()).connections[0] ?? []).some((p) => p.cmd === "disconnect"));
        expect(sent).toContainEqual({ cmd: "disconnect", reasonCode });
      },
    );

    it("keepalive: a client that sends nothing sends PINGREQ within its keepalive even while messages keep arriving", async () => {
      // The broker publishes every 100 ms; keepalive 1 s. Receiving must not reset the send-side timer.
      const { client, events, log } = open("chat", { keepalive: 1 });
      let received = 0;
      client.onMessage(() => received++);
      await client.connect();
      const connectedAt = Date.now();
      let sent: Array<{ cmd: string }> = [];
      await waitUntil(
        async () => (sent = (await log()).connections[0] ?? []).some((p) => p.cmd === "pingreq"),
        3000,
        50,
      );
      const after = Date.now() - connectedAt;
      expect(sent.map((p) => p.cmd)).toContain("pingreq");
      expect(after).toBeLessThan(2000);
      expect(received).toBeGreaterThan(3); // messages were arriving all along
      // Without a PINGRESP the client gives up half a keepalive after its PINGREQ: still connected
      // well past that, the PINGRESP came back.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(client.connected).toBe(true);
      expect(events.map((e) => e.type)).toEqual(["connected"]);
    });

    it("the broker's receive maximum (3) bounds the QoS 1 messages in flight: 20 published at once all complete, never more than 3 unacknowledged", async () => {
      // The broker acknowledges each 100 ms late and disconnects (0x93) a client that exceeds its window.
      const { client, events, log } = open("win", { maxInFlight: 100 });
      await client.connect();
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.publish("limits/window", `w ${i}`, { qos: 1 })));
      const publishes = (await log()).connections[0]!.filter((p) => p.cmd === "publish");
      expect(publishes).toHaveLength(20);
      expect(Math.max(...publishes.map((p) => p.inFlight!))).toBe(3);
      expect(events.map((e) => e.type)).toEqual(["connected"]);
    });

    it("a broker that cuts a client past 100 QoS 2 messages awaiting PUBREL and announces no receive maximum (EMQX at its defaults before 5.6, and for MQTT 3.1.1 clients): a burst of 2,000 at the client's defaults all complete on one connection; with maxInFlightQoS2 at 200 the broker cuts it", async () => {
      const { client, events } = open("emqx");
      await client.connect();
      await Promise.all(Array.from({ length: 2000 }, (_, i) => client.publish("limits/emqx", `e ${i}`, { qos: 2 })));
      expect(events.map((e) => e.type)).toEqual(["connected"]);
      // The fake does cut a client that goes past it.
      const { client: over } = open("emqx", { maxInFlightQoS2: 200 });
      await over.connect();
      const burst = await Promise.allSettled(
        Array.from({ length: 2000 }, (_, i) => over.publish("limits/emqx", `o ${i}`, { qos: 2 })),
      );
      expect(burst.some((r) => r.status === "rejected")).toBe(true);
      expect(over.connected).toBe(false);
    });

    it("stored QoS 2 messages the broker rules out stay stored and hold no window slot: QoS 1 publishing goes on (receive maximum 2)", async () => {
      const store = createMemoryStore();
      for (const packetId of [7, 8])
        store.put({
          type: "publish",
          topic: "limits/stored",
          payload: new Uint8Array([packetId]),
          qos: 2,
          retain: false,
          dup: false,
          packetId,
        });
      const { client, events, log } = open("lim", { store });
      await client.connect();
      await Promise.all([1, 2, 3].map((i) => client.publish("limits/go", `go ${i}`, { qos: 1 })));
      expect(store.size).toBe(2);
      expect(events).toEqual([
        expect.objectContaining({ type: "connected" }),
        ...[7, 8].map((packetId) => ({
          type: "parked",
          packetId,
          topic: "limits/stored",
          error: expect.objectContaining({ code: "EREPLY", reasonCode: 0x9b }),
        })),
      ]);
      expect((await log()).connections[0]!.filter((p) => p.cmd === "publish" && p.qos === 2)).toEqual([]);
    });

    it("stored QoS 2 messages parked under maximumQoS 1 go out once a connection allows QoS 2, and complete", async () => {
      const store = createMemoryStore();
      for (const packetId of [7, 8])
        store.put({
          type: "publish",
          topic: "limits/parked",
          payload: new Uint8Array([packetId]),
          qos: 2,
          retain: false,
          dup: false,
          packetId,
        });
      const { client, events, log } = open("up", { store, reconnect: { baseDelayMs: 20, maxDelayMs: 100 } });
      await client.connect();
      await client.publish("limits/first", "first", { qos: 1 });
      expect(store.size).toBe(2);
      await client.publish("drop-me", "x");
      await when(events, 5);
      expect(events.map((e) => e.type)).toEqual(["connected", "parked", "parked", "disconnected", "connected"]);
      await waitUntil(() => store.size === 0);
      expect(store.size).toBe(0);
      await Promise.all([1, 2, 3].map((i) => client.publish("limits/later", `later ${i}`, { qos: 1 })));
      const second = (await log()).connections[1]!;
      expect(
        second
          .filter((p) => p.cmd === "publish" && p.qos === 2)
          .map((p) => p.messageId)
          .sort(),
      ).toEqual([7, 8]);
      expect(
        second
          .filter((p) => p.cmd === "pubrel")
          .map((p) => p.messageId)
          .sort(),
      ).toEqual([7, 8]);
    });

    it("autoTopicAlias: within the broker's topicAliasMaximum (2) a topic's repeats go by alias alone; a new connection starts the aliases again", async () => {
      const { client, events, log } = open("alias", {
        autoTopicAlias: true,
        reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      });
      await client.connect();
      // Refused before they go out (over the broker's maximumPacketSize of 300; no topic): no alias is used up.
      expect(await rejection(client.publish("alias/one", new Uint8Array(500), { qos: 1 }))).toMatchObject({
        code: "ETOOLARGE",
      });
      expect(await rejection(client.publish("", "no topic", { qos: 1 }))).toBeInstanceOf(TypeError);
      for (const [i, name] of ["one", "two", "one", "three", "two", "three"].entries())
        await client.publish(`alias/${name}`, name, { qos: i === 2 ? 2 : 1 });
      const wire = (connection: number) =>
        log().then((l) =>
          l.connections[connection]!.filter((p) => p.cmd === "publish" && p.topic !== "drop-me").map((p) => [
            p.topic,
            p.alias ?? null,
          ]),
        );
      expect(await wire(0)).toEqual([
        ["alias/one", 1],
        ["alias/two", 2],
        ["", 1],
        ["alias/three", null],
        ["", 2],
        ["alias/three", null],
      ]);
      expect((await log()).connections[0]!.filter((p) => p.cmd === "pubrel")).toHaveLength(1); // the QoS 2 one, by alias, completed
      await client.publish("drop-me", "x");
      await when(events, 3);
      await client.publish("alias/two", "again", { qos: 1 });
      await client.publish("alias/two", "and again", { qos: 0 });
      await client.publish("alias/two", "once more", { qos: 1 }); // after the QoS 0 one: it went out
      expect(await wire(1)).toEqual([
        ["alias/two", 1],
        ["", 1],
        ["", 1],
      ]);
      expect(events.map((e) => e.type)).toEqual(["connected", "disconnected", "connected"]);
    });

    it("topicAliasMaximum: messages the broker sends by topic alias arrive with their topics", async () => {
      const { client } = open("alias", { topicAliasMaximum: 2 });
      const got: string[] = [];
      client.onMessage((m) => got.push(`${m.topic}=${m.text}`));
      await client.subscribe("alias/in");
      await waitUntil(() => got.length >= 7);
      expect(got).toEqual([
        "alias/one=1",
        "alias/one=2",
        "alias/two=3",
        "alias/two=4",
        "alias/one=5",
        "alias/three=6",
        "alias/three=7",
      ]);
    });

    it("a broker's topic alias over topicAliasMaximum, or one never set, ends the connection with EPROTOCOL and tells the broker why (0x94, 0x82)", async () => {
      for (const [filter, reasonCode] of [
        ["alias/over", 0x94],
        ["alias/zero", 0x94],
        ["alias/unset", 0x82],
      ] as const) {
        const { client, events, log } = open("alias", { topicAliasMaximum: 5 });
        const got: string[] = [];
        client.onMessage((m) => got.push(m.topic));
        await client.subscribe(filter);
        await when(events, 2);
        expect(events[1]).toMatchObject({
          type: "disconnected",
          willReconnect: false,
          error: { code: "EPROTOCOL", reasonCode },
        });
        expect(got).toEqual([]);
        expect((await log()).connections[0]!.filter((p) => p.cmd === "disconnect")).toEqual([
          { cmd: "disconnect", reasonCode },
        ]);
      }
    });

    it("a broker's topic aliases end with the connection: a new connection that starts with an alias alone ends with EPROTOCOL (0x82)", async () => {
      const { client, events, log } = open("alias", {
        topicAliasMaximum: 2,
        reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      });
      const got: string[] = [];
      client.onMessage((m) => got.push(`${m.topic}=${m.text}`));
      await client.subscribe("alias/again");
      await waitUntil(() => got.length >= 1);
      await client.publish("drop-me", "x");
      await when(events, 4); // connected, disconnected, connected, disconnected
      expect(events[3]).toMatchObject({ type: "disconnected", error: { code: "EPROTOCOL", reasonCode: 0x82 } });
      expect(got).toEqual(["alias/one=a"]);
      expect((await log()).connections[1]!.filter((p) => p.cmd === "disconnect")).toEqual([
        { cmd: "disconnect", reasonCode: 0x82 },
      ]);
    });

    const text = (value: string) => new TextEncoder().encode(value);
    const decode = (value: Uint8Array | undefined) => new TextDecoder().decode(value);

    it("enhanced authentication: two challenges answered, then CONNACK; reauthenticate() runs the exchange again on the live connection", async () => {
      const { client, events, log } = open("auth", {
        connectTimeoutMs: 1000,
        auth: {
          method: "TEST-CR",
          data: text("first"),
          challenge: (data, { reauthenticating }) => text(`${reauthenticating ? "second" : "first"}:${decode(data)}`),
        },
      });
      const { properties } = await client.connect();
      expect([properties?.authenticationMethod, decode(properties?.authenticationData)]).toEqual([
        "TEST-CR",
        "server-final",
      ]);
      expect(events[0]).toMatchObject({ type: "connected", properties: { authenticationMethod: "TEST-CR" } });
      expect(decode(await client.reauthenticate(text("second")))).toBe("server-final");
      // Past the re-authentication's deadline (connectTimeoutMs): it was cancelled, the connection is up.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await client.publish("auth/after", "still connected", { qos: 1 });
      expect(events.map((e) => e.type)).toEqual(["connected"]);
      expect((await log()).connections[0]!.filter((p) => p.cmd === "auth")).toEqual([
        { cmd: "auth", reasonCode: 0x18, data: "first:nonce-1" },
        { cmd: "auth", reasonCode: 0x18, data: "first:nonce-2" },
        { cmd: "auth", reasonCode: 0x19, data: "second" },
        { cmd: "auth", reasonCode: 0x18, data: "second:nonce-3" },
      ]);
    });

    it("enhanced authentication that fails: refused (EREPLY 0x87, 0x8C), unanswerable (EPROTOCOL), a challenge that throws (ECLOSED, DISCONNECT 0x80), another method (EPROTOCOL 0x82)", async () => {
      const wrong = open("auth", { auth: { method: "TEST-CR", data: text("x"), challenge: () => text("wrong") } });
      expect(await rejection(wrong.client.connect())).toMatchObject({ code: "EREPLY", reasonCode: 0x87 });
      const unknown = open("auth", { auth: { method: "NOPE" } });
      expect(await rejection(unknown.client.connect())).toMatchObject({ code: "EREPLY", reasonCode: 0x8c });
      const unanswered = open("auth", { auth: { method: "TEST-CR" }, reconnect: { baseDelayMs: 20, maxDelayMs: 40 } });
      expect(await rejection(unanswered.client.connect())).toMatchObject({
        code: "EPROTOCOL",
        message: expect.stringMatching(/challenge/),
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await unanswered.log()).connections).toHaveLength(1); // a missing challenge() is not retried
      const failing = open("auth", {
        auth: {
          method: "TEST-CR",
          challenge: () => {
            throw new Error("no token today");
          },
        },
      });
      const error = await rejection(failing.client.connect());
      expect(error).toMatchObject({ code: "ECLOSED", cause: { message: "no token today" } });
      expect((await failing.log()).connections[0]!.filter((p) => p.cmd === "disconnect")).toEqual([
        { cmd: "disconnect", reasonCode: 0x80 },
      ]);
      const other = open("auth-other", { auth: { method: "TEST-CR", challenge: () => text("x") } });
      expect(await rejection(other.client.connect())).toMatchObject({ code: "EPROTOCOL", reasonCode: 0x82 });
    });

    it("enhanced authentication, the broker's side checked: answers in order when the challenges come together (the first answered last by a slower challenge), none after CONNACK, and a CONNACK without the method, an AUTH after CONNACK or an answer too large to send fails the attempt", async () => {
      const slowFirst = async (data: Uint8Array | undefined) => {
        const nonce = decode(data);
        await new Promise((resolve) => setTimeout(resolve, nonce === "nonce-1" ? 60 : 5));
        return text(`p:${nonce}`);
      };
      const pipe = open("auth-pipe", { auth: { method: "TEST-CR", data: text("p"), challenge: slowFirst } });
      await pipe.client.connect();
      expect((await pipe.log()).connections[0]!.filter((p) => p.cmd === "auth").map((p) => p.data)).toEqual([
        "p:nonce-1",
        "p:nonce-2",
      ]);

      // The broker's CONNACK comes 50 ms after its challenge; the answer takes 400 ms (a margin a
      // loaded machine's timers keep).
      const slow = async (data: Uint8Array | undefined) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return text(`p:${decode(data)}`);
      };
      const eager = open("auth-eager", { auth: { method: "TEST-CR", data: text("e"), challenge: slow } });
      await eager.client.connect();
      await new Promise((resolve) => setTimeout(resolve, 500)); // the challenge has finished by now
      await eager.client.publish("auth/eager", "x", { qos: 1 }); // still connected: no late AUTH went out
      expect((await eager.log()).connections[0]!.filter((p) => p.cmd === "auth")).toEqual([]);

      const answer = (data: Uint8Array | undefined) => text(`n:${decode(data)}`);
      const nomethod = open("auth-nomethod", { auth: { method: "TEST-CR", data: text("n"), challenge: answer } });
      expect(await rejection(nomethod.client.connect())).toMatchObject({
        code: "EPROTOCOL",
        reasonCode: 0x82,
        message: expect.stringMatching(/authentication method/),
      });
      const late = open("auth-late", { auth: { method: "TEST-CR", data: text("n"), challenge: answer } });
      // The AUTH comes in the CONNACK's read: connect() may resolve first (then the loss is an event) or reject with it.
      const failure = await late.client.connect().then(
        async () => {
          await waitUntil(() => late.events.some((e) => e.type === "disconnected"));
          return (late.events.find((e) => e.type === "disconnected") as { error?: unknown } | undefined)?.error;
        },
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({
        code: "EPROTOCOL",
        reasonCode: 0x82,
        message: expect.stringMatching(/AUTH after CONNACK/),
      });
      const lateLog = (await late.log()).connections[0]!;
      expect(lateLog.filter((p) => p.cmd === "auth").map((p) => p.data)).toEqual(["n:nonce-1", "n:nonce-2"]); // the late challenge went unanswered
      expect(lateLog.filter((p) => p.cmd === "disconnect")).toEqual([{ cmd: "disconnect", reasonCode: 0x82 }]);
      const huge = open("auth", { auth: { method: "TEST-CR", challenge: () => new Uint8Array(70_000) } });
      const started = Date.now();
      expect(await rejection(huge.client.connect())).toMatchObject({
        code: "ECLOSED",
        message: expect.stringMatching(/could not be sent/),
      });
      expect(Date.now() - started).toBeLessThan(5000); // not the 10 s connect deadline
    });

    it("a re-authentication the broker never finishes: after connectTimeoutMs reauthenticate() rejects with ETIMEDOUT and the connection is closed", async () => {
      const { client, events } = open("auth-mute", {
        connectTimeoutMs: 1000,
        auth: { method: "TEST-CR", data: text("m"), challenge: (data) => text(`m:${decode(data)}`) },
      });
      await client.connect();
      const started = Date.now();
      expect(await rejection(client.reauthenticate())).toMatchObject({ code: "ETIMEDOUT" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(events.map((e) => e.type)).toEqual(["connected", "disconnected"]);
    });

    it("a connect-time challenge still unanswered when CONNACK came holds up no later exchange", async () => {
      const { client } = open("auth-eager", {
        connectTimeoutMs: 1000,
        auth: {
          method: "TEST-CR",
          data: text("e"),
          challenge: (data, { reauthenticating }) =>
            reauthenticating ? text(`r:${decode(data)}`) : new Promise<Uint8Array>(() => {}),
        },
      });
      await client.connect();
      expect(decode(await client.reauthenticate(text("r")))).toBe("server-final");
    });

    it("a second CONNACK on a connection is EPROTOCOL: the client says why (DISCONNECT 0x82)", async () => {
      const { client, events, log } = open("twice");
      await client.connect();
      await client.publish("twice/x", "x", { qos: 0 });
      await when(events, 2);
      expect(events[1]).toMatchObject({
        type: "disconnected",
        error: { code: "EPROTOCOL", reasonCode: 0x82, message: expect.stringMatching(/second CONNACK/) },
      });
      expect((await log()).connections[0]!.filter((p) => p.cmd === "disconnect")).toEqual([
        { cmd: "disconnect", reasonCode: 0x82 },
      ]);
    });

    it("a CONNACK under the wrong authentication method is not retried, even with reconnect", async () => {
      const { client, log } = open("auth-nomethod", {
        reconnect: { baseDelayMs: 20, maxDelayMs: 40 },
        auth: { method: "TEST-CR", data: text("n"), challenge: (data) => text(`n:${decode(data)}`) },
      });
      expect(await rejection(client.connect())).toMatchObject({ code: "EPROTOCOL", reasonCode: 0x82 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await log()).connections).toHaveLength(1);
    });

    it("a re-authentication the broker refuses: it disconnects (0x87) and reauthenticate() rejects with why", async () => {
      const { client, events } = open("auth", {
        auth: {
          method: "TEST-CR",
          data: text("first"),
          challenge: (data, { reauthenticating }) => text(reauthenticating ? "wrong" : `first:${decode(data)}`),
        },
      });
      await client.connect();
      expect(await rejection(client.reauthenticate())).toMatchObject({ code: "EREPLY", reasonCode: 0x87 });
      expect(events.map((e) => e.type)).toEqual(["connected", "disconnected"]);
    });

    it("a stored retained message is parked while retainAvailable is 0 (reported, kept, unsent) and goes out retained once a connection allows it", async () => {
      const store = createMemoryStore();
      store.put({
        type: "publish",
        topic: "limits/kept",
        payload: new Uint8Array([1]),
        qos: 1,
        retain: true,
        dup: false,
        packetId: 9,
      });
      const { client, events, log } = open("ret", { store, reconnect: { baseDelayMs: 20, maxDelayMs: 100 } });
      await client.connect();
      await client.publish("limits/plain", "plain", { qos: 1 });
      expect(store.size).toBe(1);
      expect(events).toEqual([
        expect.objectContaining({ type: "connected" }),
        {
          type: "parked",
          packetId: 9,
          topic: "limits/kept",
          error: expect.objectContaining({ code: "EREPLY", reasonCode: 0x9a }),
        },
      ]);
      expect((await log()).connections[0]!.filter((p) => p.cmd === "publish").map((p) => p.topic)).toEqual([
        "limits/plain",
      ]);
      await client.publish("drop-me", "x");
      await when(events, 4);
      await waitUntil(() => store.size === 0);
      expect(store.size).toBe(0);
      expect(events.map((e) => e.type)).toEqual(["connected", "parked", "disconnected", "connected"]);
      const second = (await log()).connections[1]!;
      expect(second.filter((p) => p.cmd === "publish")).toEqual([
        { cmd: "publish", messageId: 9, qos: 1, dup: false, topic: "limits/kept", retain: true },
      ]);
    });

    it("a topic alias of 0, or above the broker's topicAliasMaximum (2), is refused before it is sent (TypeError, EREPLY 0x94); the connection stays", async () => {
      const { client, events, log } = open("alias");
      await client.connect();
      const zero = await rejection(client.publish("alias/zero", "x", { qos: 1, properties: { topicAlias: 0 } }));
      expect(zero).toBeInstanceOf(TypeError);
      expect((zero as Error).message).toMatch(/MQTT-3.3.2-8/);
      expect(
        await rejection(client.publish("alias/over", "x", { qos: 1, properties: { topicAlias: 3 } })),
      ).toMatchObject({
        code: "EREPLY",
        reasonCode: 0x94,
        message: expect.stringMatching(/topicAliasMaximum \(2/),
      });
      expect(
        await rejection(client.publish("alias/over", "x", { qos: 0, properties: { topicAlias: 9 } })),
      ).toMatchObject({
        reasonCode: 0x94,
      });
      // Within the maximum the broker takes it (and resolves the alias alone on the next one).
      await client.publish("alias/two", "named", { qos: 1, properties: { topicAlias: 2 } });
      await client.publish("", "by alias", { qos: 1, properties: { topicAlias: 2 } });
      expect(client.connected).toBe(true);
      expect(events.map((e) => e.type)).toEqual(["connected"]);
      expect((await log()).connections[0]!.filter((p) => p.cmd === "publish" || p.cmd === "disconnect")).toEqual([
        { cmd: "publish", messageId: expect.any(Number), qos: 1, dup: false, topic: "alias/two", alias: 2 },
        { cmd: "publish", messageId: expect.any(Number), qos: 1, dup: false, topic: "", alias: 2 },
      ]);
    });

    it("receiveMaximum is told in CONNECT; the broker may leave that many QoS 2 messages awaiting PUBREL, and one more gets DISCONNECT 0x93 and EPROTOCOL", async () => {
      const within = open("flood", { receiveMaximum: 5 });
      const got: string[] = [];
      within.client.onMessage((m) => got.push(m.text));
      await within.client.subscribe("flood/5", { qos: 2 });
      await waitUntil(() => got.length === 5);
      await within.client.publish("limits/after", "x", { qos: 1 }); // a round trip: the connection lives
      const first = (await within.log()).connections[0]!;
      expect(first[0]).toEqual({ cmd: "connect", receiveMaximum: 5 });
      expect(first.filter((p) => p.cmd === "pubrec").map((p) => p.messageId)).toEqual([1, 2, 3, 4, 5]);
      expect(first.some((p) => p.cmd === "disconnect")).toBe(false);
      expect(got).toEqual(["1", "2", "3", "4", "5"]);

      const over = open("flood", { receiveMaximum: 5 });
      const delivered: string[] = [];
      over.client.onMessage((m) => delivered.push(m.text));
      await over.client.connect();
      void over.client.subscribe("flood/6", { qos: 2 }).catch(() => {});
      await over.client.closed; // without reconnect, the failed connection finishes the client
      expect(over.events.at(-1)).toMatchObject({ type: "disconnected", error: { code: "EPROTOCOL" } });
      expect(delivered).toEqual(["1", "2", "3", "4", "5"]);
      await waitUntil(async () => (await over.log()).connections[0]!.some((p) => p.cmd === "disconnect"));
      expect((await over.log()).connections[0]!.filter((p) => p.cmd === "disconnect")).toEqual([
        { cmd: "disconnect", reasonCode: 0x93 },
      ]);

      // The default (65535) is not sent: the broker's own default is the same.
      const plain = open("flood");
      await plain.client.connect();
      expect((await plain.log()).connections[0]![0]).toEqual({ cmd: "connect" });
    });
  });
}
