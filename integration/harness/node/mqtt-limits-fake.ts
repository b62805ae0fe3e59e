// A scripted MQTT 5.0 broker whose CONNACK limits change between a client's connections, for the
// client's side of "the broker came back accepting less" (or more), packet by packet. Real brokers
// cannot change their limits without a restart that also cuts every other test's clients.
//
// The client id picks the script, "<plan>-<anything>":
//   down-   connection 1: receiveMaximum 100; later ones: maximumQoS 1, receiveMaximum 1
//   lim-    every connection: maximumQoS 1, receiveMaximum 2
//   up-     connection 1: maximumQoS 1, receiveMaximum 2; later ones: receiveMaximum 2 only
//   noret-  connection 1: receiveMaximum 100; later ones: retainAvailable 0, receiveMaximum 100
//   ret-    connection 1: retainAvailable 0, receiveMaximum 100; later ones: receiveMaximum 100 only
//   alias-  every connection: topicAliasMaximum 2, maximumPacketSize 300, receiveMaximum 100.
//           Topic aliases are checked as a broker does (an alias over 2: DISCONNECT 0x94; an
//           unknown one alone: 0x82), and a SUBSCRIBE is answered with QoS 0 messages by alias:
//           "alias/in" gets a correct run, "alias/unset" a PUBLISH by alias 3 that was never set,
//           "alias/over" one using alias 9, "alias/zero" one using alias 0, "alias/again" one
//           setting alias 1, and then every later connection of that client starts with a
//           PUBLISH by alias 1 alone (aliases do not outlive their connection).
//   auth-   enhanced authentication, method "TEST-CR" (another: CONNACK 0x8C). CONNECT's data D is
//           challenged twice, "nonce-1" then "nonce-2", each to be answered "D:nonce-N" (a wrong
//           answer: CONNACK 0x87), then CONNACK. A re-authentication (AUTH 0x19 with data E) is
//           challenged with "nonce-3", answered "E:nonce-3", then AUTH 0x00 (wrong: DISCONNECT 0x87).
//           Variants by prefix: auth-other- is challenged under method "OTHER"; auth-pipe- gets
//           both challenges at once; auth-nomethod-'s CONNACK names no method; auth-late- gets an
//           AUTH 0x18 after its CONNACK; auth-eager- gets its CONNACK 50 ms after the first
//           challenge, without waiting for the answer (any AUTH after that ends the connection);
//           auth-mute- never answers a re-authentication. Success (CONNACK, AUTH 0x00) carries
//           the data "server-final".
//   twice-  receiveMaximum 100; its first PUBLISH is answered with a second CONNACK.
//   garbage-, huge-  receiveMaximum 100; right after the CONNACK, two bytes of a packet type that does
//           not exist (garbage-), or a PUBLISH header declaring about 200 MB (huge-), as the 3.1.1
//           fakes of mqtt.ts do: the MQTT 5 client must say why in its DISCONNECT (0x81, 0x95).
//   chat-   receiveMaximum 100; sends a QoS 0 PUBLISH ("chat/tick") every 100 ms from its CONNACK on,
//           so the client always has something to read.
//   flood-  receiveMaximum 100; logs the receiveMaximum of the client's CONNECT; a SUBSCRIBE to
//           "flood/N" is answered with N QoS 2 PUBLISHes (ids 1..N) and no PUBREL, so that each
//           awaits its release: past the client's receiveMaximum, the client must say 0x93.
//   win-    receiveMaximum 3; each QoS 1 PUBLISH is acknowledged 100 ms later, and one beyond the 3
//           unacknowledged the client may have is answered with DISCONNECT 0x93 (Receive Maximum
//           exceeded), as the spec has a broker do. Its log gives each PUBLISH `inFlight`: how many
//           were unacknowledged with it.
// Every connection: QoS 1 gets PUBACK; QoS 2 gets PUBREC (and PUBREL, PUBCOMP) only where the
// CONNACK allows QoS 2, except on a down- client's first connection, which acknowledges no QoS 2
// (the flow stays open across the drop). A QoS 2 PUBLISH where maximumQoS is 1 gets DISCONNECT
// 0x9B, as Mosquitto does; a retained PUBLISH where retainAvailable is 0 gets DISCONNECT 0x9A. A PUBLISH to the topic "drop-me" cuts the connection (session kept:
// later CONNACKs say session present).
// The control port answers "log <clientId>" with every packet received, per connection, as JSON.
import mqttPacket from "mqtt-packet";
import { serveScriptedBroker } from "./scripted-broker.js";

export interface LimitsFakeLog {
  connections: Array<
    Array<{
      cmd: string;
      messageId?: number;
      qos?: number;
      dup?: boolean;
      topic?: string;
      retain?: true;
      alias?: number;
      reasonCode?: number;
      data?: string;
      inFlight?: number;
      receiveMaximum?: number;
    }>
  >;
}

interface Limits {
  topicAliasMaximum?: number;
  maximumPacketSize?: number;
  maximumQoS?: number;
  retainAvailable?: boolean; // mqtt-packet's form of the byte
  receiveMaximum: number;
}

function limitsFor(clientId: string, connection: number): Limits {
  if (clientId.startsWith("down-"))
    return connection === 1 ? { receiveMaximum: 100 } : { maximumQoS: 1, receiveMaximum: 1 };
  if (clientId.startsWith("lim-")) return { maximumQoS: 1, receiveMaximum: 2 };
  if (clientId.startsWith("up-"))
    return connection === 1 ? { maximumQoS: 1, receiveMaximum: 2 } : { receiveMaximum: 2 };
  if (clientId.startsWith("noret-"))
    return connection === 1 ? { receiveMaximum: 100 } : { retainAvailable: false, receiveMaximum: 100 };
  if (clientId.startsWith("ret-"))
    return connection === 1 ? { retainAvailable: false, receiveMaximum: 100 } : { receiveMaximum: 100 };
  if (clientId.startsWith("auth-") || clientId.startsWith("twice-")) return { receiveMaximum: 100 };
  if (clientId.startsWith("alias-")) return { topicAliasMaximum: 2, maximumPacketSize: 300, receiveMaximum: 100 };
  if (clientId.startsWith("win-")) return { receiveMaximum: 3 };
  // EMQX at its defaults (before 5.6, which announces min(client's, 32) to MQTT 5 clients): no
  // receive maximum announced, 100 QoS 2 messages awaiting PUBREL at most.
  if (clientId.startsWith("emqx-")) return { receiveMaximum: 65535 };
  if (
    clientId.startsWith("chat-") ||
    clientId.startsWith("garbage-") ||
    clientId.startsWith("huge-") ||
    clientId.startsWith("flood-")
  )
    return { receiveMaximum: 100 };
  throw new Error(`the limits fake has no script for client id ${clientId}`);
}

const AUTH_METHOD = "TEST-CR";

// What an alias- client's SUBSCRIBE gets back, by filter: [topic, alias, payload] per QoS 0 PUBLISH.
const ALIASED: Record<string, Array<[string, number, string]>> = {
  "alias/in": [
    ["alias/one", 1, "1"],
    ["", 1, "2"],
    ["alias/two", 2, "3"],
    ["", 2, "4"],
    ["", 1, "5"],
    ["alias/three", 1, "6"], // alias 1 now names another topic
    ["", 1, "7"],
  ],
  "alias/unset": [["", 3, "never set"]],
  "alias/over": [["alias/x", 9, "over the maximum"]],
  "alias/zero": [["alias/x", 0, "alias 0"]],
  "alias/again": [["alias/one", 1, "a"]],
};

export async function startMqttLimitsFake(): Promise<{ port: number; control: number; close(): Promise<void> }> {
  const logs = new Map<string, LimitsFakeLog>();
  const subscribedAgain = new Set<string>(); // alias- clients that subscribed to "alias/again"
  const opts = { protocolVersion: 5 } as const;
  return serveScriptedBroker((socket) => {
    const parser = mqttPacket.parser(opts);
    const send = (packet: object) => {
      if (!socket.destroyed) socket.write(mqttPacket.generate(packet as mqttPacket.Packet, opts));
    };
    let log: LimitsFakeLog["connections"][number] = [];
    let clientId = "";
    let connection = 0;
    let limits: Limits = { receiveMaximum: 100 };
    const aliases = new Map<number, string>(); // the client's, on this connection
    let auth: { base: string; round: number } | undefined; // an exchange under way: the answer expected
    let connackedTwice = false;
    let outstanding = 0; // a win- client's unacknowledged QoS 1 PUBLISH packets
    const awaitingRel = new Set<number>(); // an emqx- client's QoS 2 messages awaiting PUBREL
    const delayed = new Set<NodeJS.Timeout>();
    socket.once("close", () => delayed.forEach(clearTimeout));
    const sendAuth = (reasonCode: number, data?: string) =>
      send({
        cmd: "auth",
        reasonCode,
        properties: {
          authenticationMethod: clientId.startsWith("auth-other-") ? "OTHER" : AUTH_METHOD,
          ...(data !== undefined ? { authenticationData: Buffer.from(data) } : {}),
        },
      });
    parser.on("packet", (packet: mqttPacket.Packet) => {
      if (socket.destroyed) return; // the rest of a chunk that arrived with "drop-me"
      const p = packet as mqttPacket.Packet & {
        messageId?: number;
        qos?: number;
        dup?: boolean;
        topic?: string;
        clientId?: string;
      };
      if (p.cmd === "connect") {
        clientId = p.clientId!;
        const entry = logs.get(clientId) ?? { connections: [] };
        logs.set(clientId, entry);
        entry.connections.push((log = []));
        connection = entry.connections.length;
        try {
          limits = limitsFor(clientId, connection);
        } catch {
          send({ cmd: "connack", reasonCode: 0x85, sessionPresent: false });
          socket.end();
          return;
        }
        if (clientId.startsWith("auth-")) {
          const props = (p as { properties?: { authenticationMethod?: string; authenticationData?: Buffer } })
            .properties;
          if (props?.authenticationMethod !== AUTH_METHOD) {
            send({ cmd: "connack", reasonCode: 0x8c, sessionPresent: false });
            socket.end();
            return;
          }
          auth = { base: String(props.authenticationData ?? ""), round: 1 };
          sendAuth(0x18, "nonce-1");
          if (clientId.startsWith("auth-pipe-")) sendAuth(0x18, "nonce-2");
          if (clientId.startsWith("auth-eager-")) {
            auth = undefined;
            // 50 ms later: the client is working on its answer by then.
            const later = setTimeout(
              () =>
                send({
                  cmd: "connack",
                  reasonCode: 0,
                  sessionPresent: false,
                  properties: {
                    ...limits,
                    authenticationMethod: AUTH_METHOD,
                    authenticationData: Buffer.from("server-final"),
                  },
                }),
              50,
            );
            socket.once("close", () => clearTimeout(later));
          }
          return;
        }
        if (clientId.startsWith("flood-")) {
          const asked = (p as { properties?: { receiveMaximum?: number } }).properties?.receiveMaximum;
          log.push({ cmd: "connect", ...(asked !== undefined ? { receiveMaximum: asked } : {}) });
        }
        send({ cmd: "connack", reasonCode: 0, sessionPresent: connection > 1, properties: limits });
        if (clientId.startsWith("garbage-")) socket.write(Buffer.from([0x00, 0x00]));
        if (clientId.startsWith("huge-")) socket.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x60]));
        if (clientId.startsWith("chat-")) {
          const ticks = setInterval(
            () =>
              send({
                cmd: "publish",
                topic: "chat/tick",
                payload: Buffer.from("tick"),
                qos: 0,
                retain: false,
                dup: false,
              }),
            100,
          );
          socket.once("close", () => clearInterval(ticks));
        }
        if (connection > 1 && subscribedAgain.has(clientId))
          send({
            cmd: "publish",
            topic: "",
            payload: Buffer.from("b"),
            qos: 0,
            retain: false,
            dup: false,
            properties: { topicAlias: 1 },
          });
        return;
      }
      const retain = p.cmd === "publish" && (p as { retain?: boolean }).retain ? { retain: true as const } : {};
      const alias = (p as { properties?: { topicAlias?: number } }).properties?.topicAlias;
      const reasonCode =
        p.cmd === "disconnect" || p.cmd === "auth"
          ? { reasonCode: (p as { reasonCode?: number }).reasonCode ?? 0 }
          : {};
      const authData = (p as { properties?: { authenticationData?: Buffer } }).properties?.authenticationData;
      log.push({
        cmd: p.cmd,
        ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
        ...(p.cmd === "publish"
          ? { qos: p.qos, dup: p.dup, topic: p.topic, ...retain, ...(alias !== undefined ? { alias } : {}) }
          : {}),
        ...reasonCode,
        ...(p.cmd === "auth" && authData !== undefined ? { data: String(authData) } : {}),
        ...(p.cmd === "publish" && p.qos === 1 && clientId.startsWith("win-") ? { inFlight: ++outstanding } : {}),
      });
      if (p.cmd === "auth") {
        const code = (p as { reasonCode?: number }).reasonCode ?? 0;
        const data = String(authData ?? "");
        if (code === 0x19) {
          if (clientId.startsWith("auth-mute-")) return;
          auth = { base: data, round: 3 };
          sendAuth(0x18, "nonce-3");
          return;
        }
        const right = auth !== undefined && data === `${auth.base}:nonce-${auth.round}`;
        if (auth?.round === 1 && right) {
          auth.round = 2;
          if (!clientId.startsWith("auth-pipe-")) sendAuth(0x18, "nonce-2"); // a pipe- client has it already
        } else if (auth?.round === 2 && right) {
          auth = undefined;
          const method = clientId.startsWith("auth-nomethod-")
            ? {}
            : { authenticationMethod: AUTH_METHOD, authenticationData: Buffer.from("server-final") };
          send({ cmd: "connack", reasonCode: 0, sessionPresent: false, properties: { ...limits, ...method } });
          if (clientId.startsWith("auth-late-")) sendAuth(0x18, "nonce-late");
        } else if (auth?.round === 3 && right) {
          auth = undefined;
          sendAuth(0x00, "server-final");
        } else {
          send(
            auth?.round === 3
              ? { cmd: "disconnect", reasonCode: 0x87 }
              : { cmd: "connack", reasonCode: 0x87, sessionPresent: false },
          );
          socket.end();
        }
        return;
      }
      if (p.cmd === "publish" && alias !== undefined) {
        if (alias === 0 || alias > (limits.topicAliasMaximum ?? 0)) {
          send({ cmd: "disconnect", reasonCode: 0x94 });
          socket.end();
          return;
        }
        if (p.topic === "" && !aliases.has(alias)) {
          send({ cmd: "disconnect", reasonCode: 0x82 });
          socket.end();
          return;
        }
        if (p.topic !== "") aliases.set(alias, p.topic!);
      }
      if (p.cmd === "subscribe") {
        const filters = (p as unknown as { subscriptions: Array<{ topic: string }> }).subscriptions.map(
          (sub) => sub.topic,
        );
        if (filters.includes("alias/again")) subscribedAgain.add(clientId);
        send({ cmd: "suback", messageId: p.messageId, granted: filters.map(() => 0) });
        for (const filter of filters) {
          const flood = /^flood\/(\d+)$/.exec(filter);
          for (let id = 1; flood && id <= Number(flood[1]); id++)
            send({
              cmd: "publish",
              topic: filter,
              payload: Buffer.from(String(id)),
              qos: 2,
              retain: false,
              dup: false,
              messageId: id,
            });
        }
        for (const [topic, topicAlias, payload] of filters.flatMap((f) => ALIASED[f] ?? [])) {
          send({
            cmd: "publish",
            topic,
            payload: Buffer.from(payload),
            qos: 0,
            retain: false,
            dup: false,
            properties: { topicAlias },
          });
        }
        return;
      }
      if (p.cmd === "publish" && clientId.startsWith("twice-") && !connackedTwice) {
        connackedTwice = true;
        send({ cmd: "connack", reasonCode: 0, sessionPresent: false, properties: limits });
        return;
      }
      if (p.cmd === "publish" && p.topic === "drop-me") {
        socket.destroy();
        return;
      }
      if (p.cmd === "publish" && p.qos === 2 && limits.maximumQoS !== undefined && limits.maximumQoS < 2) {
        send({ cmd: "disconnect", reasonCode: 0x9b });
        socket.end();
        return;
      }
      if (p.cmd === "publish" && (p as { retain?: boolean }).retain && limits.retainAvailable === false) {
        send({ cmd: "disconnect", reasonCode: 0x9a });
        socket.end();
        return;
      }
      if (clientId.startsWith("emqx-") && p.cmd === "pubrel") awaitingRel.delete(p.messageId!);
      if (clientId.startsWith("emqx-") && p.cmd === "publish" && p.qos === 2) {
        // What EMQX 5 does past its max_awaiting_rel (100 by default): DISCONNECT 0x93.
        if (awaitingRel.add(p.messageId!).size > 100) {
          send({ cmd: "disconnect", reasonCode: 0x93 });
          socket.end();
          return;
        }
      }
      if (p.cmd === "publish" && p.qos === 1 && clientId.startsWith("win-")) {
        if (outstanding > limits.receiveMaximum) {
          send({ cmd: "disconnect", reasonCode: 0x93 });
          socket.end();
          return;
        }
        const timer = setTimeout(() => {
          delayed.delete(timer);
          outstanding--;
          send({ cmd: "puback", messageId: p.messageId, reasonCode: 0 });
        }, 100);
        delayed.add(timer);
        return;
      }
      if (p.cmd === "publish" && p.qos === 1) send({ cmd: "puback", messageId: p.messageId, reasonCode: 0 });
      if (p.cmd === "publish" && p.qos === 2 && !(clientId.startsWith("down-") && connection === 1))
        send({ cmd: "pubrec", messageId: p.messageId, reasonCode: 0 });
      if (p.cmd === "pubrel") send({ cmd: "pubcomp", messageId: p.messageId, reasonCode: 0 });
      if (p.cmd === "pingreq") send({ cmd: "pingresp" });
    });
    socket.on("data", (data) => parser.parse(data));
  }, logs);
}
