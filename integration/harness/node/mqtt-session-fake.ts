// A scripted MQTT 3.1.1 broker that checks the client's side of a session resumed after a
// lost connection, packet by packet (real brokers redeliver around restarts in ways of their
// own; this one does exactly what the spec says, so any repeat is the client's).
//
// Per client id:
//   connection 1: CONNACK (session present 0); sends PUBLISH QoS 2 id 7 "once"; answers a
//     QoS 2 PUBLISH with PUBREC; acknowledges nothing else; once it has the client's PUBREC 7,
//     a QoS 1 PUBLISH and a PUBREL, it cuts the connection.
//   connection 2: CONNACK (session present 1); sends "once" again (DUP, id 7: the client must
//     not deliver it twice), then PUBREL 7; answers PUBLISH QoS 1 with PUBACK and PUBREL with
//     PUBCOMP.
// A client id starting "lost-" gets session present 0 on connection 2 and nothing unasked for.
// The control port answers "log <clientId>" with every packet received, per connection, as JSON.
import mqttPacket from "mqtt-packet";
import { serveScriptedBroker } from "./scripted-broker.js";

export interface SessionFakeLog {
  connections: Array<Array<{ cmd: string; messageId?: number; qos?: number; dup?: boolean; payload?: string }>>;
}

export async function startMqttSessionFake(): Promise<{ port: number; control: number; close(): Promise<void> }> {
  const logs = new Map<string, SessionFakeLog>();
  const opts = { protocolVersion: 4 } as const;
  return serveScriptedBroker((socket) => {
    const parser = mqttPacket.parser(opts);
    const send = (packet: object) => socket.write(mqttPacket.generate(packet as mqttPacket.Packet, opts));
    let log: SessionFakeLog["connections"][number] = [];
    let connection = 0;
    const seen = () => ({
      pubrec7: log.some((p) => p.cmd === "pubrec" && p.messageId === 7),
      qos1: log.some((p) => p.cmd === "publish" && p.qos === 1),
      pubrel: log.some((p) => p.cmd === "pubrel"),
    });
    parser.on("packet", (packet: mqttPacket.Packet) => {
      const p = packet as mqttPacket.Packet & {
        messageId?: number;
        qos?: number;
        dup?: boolean;
        payload?: Buffer;
        clientId?: string;
      };
      if (p.cmd === "connect") {
        const entry = logs.get(p.clientId!) ?? { connections: [] };
        logs.set(p.clientId!, entry);
        entry.connections.push((log = []));
        connection = entry.connections.length;
        // A client id starting "lost-" finds its session gone on connection 2 (as after a broker restart without persistence).
        const lost = p.clientId!.startsWith("lost-") && connection > 1;
        send({ cmd: "connack", returnCode: 0, sessionPresent: connection > 1 && !lost });
        if (lost) return;
        send({
          cmd: "publish",
          topic: "fake/once",
          payload: Buffer.from("once"),
          qos: 2,
          messageId: 7,
          dup: connection > 1,
          retain: false,
        });
        if (connection > 1) send({ cmd: "pubrel", messageId: 7 });
        return;
      }
      log.push({
        cmd: p.cmd,
        ...(p.messageId !== undefined ? { messageId: p.messageId } : {}),
        ...(p.cmd === "publish" ? { qos: p.qos, dup: p.dup, payload: p.payload!.toString() } : {}),
      });
      if (connection === 1) {
        if (p.cmd === "publish" && p.qos === 2) send({ cmd: "pubrec", messageId: p.messageId });
        const s = seen();
        if (s.pubrec7 && s.qos1 && s.pubrel) socket.destroy();
        return;
      }
      if (p.cmd === "publish" && p.qos === 1) send({ cmd: "puback", messageId: p.messageId });
      if (p.cmd === "publish" && p.qos === 2) send({ cmd: "pubrec", messageId: p.messageId });
      if (p.cmd === "pubrel") send({ cmd: "pubcomp", messageId: p.messageId });
      if (p.cmd === "pingreq") send({ cmd: "pingresp" });
    });
    socket.on("data", (data) => parser.parse(data));
  }, logs);
}
