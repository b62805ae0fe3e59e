// What an MQTT client writes, read off the wire: a `connect` wrapper that decodes every byte the
// client sends, per connection. Runtime-neutral (workerd and Node): it wraps the socket's writer.
import type { Connect, SocketLike } from "@sockkit/core";
import { MqttDecoder, type MqttPacket, type ProtocolVersion } from "@sockkit/core/mqtt";

export interface MqttWireTap {
  connect: Connect;
  /** The packets each connection wrote, in order (one array per connection, oldest first). */
  readonly connections: MqttPacket[][];
}

export function tapMqttWrites(connect: Connect, version: ProtocolVersion): MqttWireTap {
  const connections: MqttPacket[][] = [];
  const tapped: Connect = (address, options) => {
    const socket = connect(address, options);
    const packets: MqttPacket[] = [];
    connections.push(packets);
    const decoder = new MqttDecoder({ version, onPacket: (packet) => packets.push(packet) });
    const writable = socket.writable;
    const getWriter = () => {
      const writer = writable.getWriter();
      const write = writer.write.bind(writer);
      writer.write = (chunk?: Uint8Array) => {
        if (chunk) decoder.feed(chunk);
        return write(chunk);
      };
      return writer;
    };
    return new Proxy(socket, {
      get(target, key) {
        if (key === "writable")
          return new Proxy(writable, {
            get: (w, k) => (k === "getWriter" ? getWriter : bound(w, k)),
          });
        return bound(target, key);
      },
    }) as SocketLike;
  };
  return { connect: tapped, connections };
}

function bound(target: object, key: string | symbol): unknown {
  const value = Reflect.get(target, key, target) as unknown;
  return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
