// What an MQTT client writes and reads, off the wire: a `connect` wrapper that decodes every byte
// the client sends and receives, per connection. Runtime-neutral (workerd and Node): it wraps the
// socket's writer and reader.
import type { Connect, SocketLike } from "@sockkit/core";
import { MqttDecoder, type MqttPacket, type ProtocolVersion } from "@sockkit/core/mqtt";

export interface MqttWireTap {
  connect: Connect;
  /** The packets each connection wrote, in order (one array per connection, oldest first). */
  readonly connections: MqttPacket[][];
  /** The packets each connection read, in order (one array per connection, as `connections`). */
  readonly received: MqttPacket[][];
}

export function tapMqttWrites(connect: Connect, version: ProtocolVersion): MqttWireTap {
  const connections: MqttPacket[][] = [];
  const received: MqttPacket[][] = [];
  const tapped: Connect = (address, options) => {
    const socket = connect(address, options);
    const packets: MqttPacket[] = [];
    const read: MqttPacket[] = [];
    connections.push(packets);
    received.push(read);
    const decoder = new MqttDecoder({ version, onPacket: (packet) => packets.push(packet) });
    const inbound = new MqttDecoder({ version, onPacket: (packet) => read.push(packet) });
    let garbled = false;
    const readable = socket.readable;
    const getReader = () => {
      const reader = readable.getReader();
      const next = reader.read.bind(reader);
      reader.read = async () => {
        const result = await next();
        // A copy: the client may reuse or transfer the chunk once it has it. Bytes the tap cannot
        // decode are the client's to report: the tap stops reading that connection.
        if (!result.done && !garbled) {
          try {
            inbound.feed(result.value.slice());
          } catch {
            garbled = true;
          }
        }
        return result;
      };
      return reader;
    };
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
        if (key === "readable")
          return new Proxy(readable, {
            get: (r, k) => (k === "getReader" ? getReader : bound(r, k)),
          });
        return bound(target, key);
      },
    }) as SocketLike;
  };
  return { connect: tapped, connections, received };
}

function bound(target: object, key: string | symbol): unknown {
  const value = Reflect.get(target, key, target) as unknown;
  return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
