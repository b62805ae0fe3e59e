// Misbehaving "Redis servers" for the client's fault tests: each answers the
// first bytes it gets (the client's HELLO) in its own wrong way.
import type net from "node:net";
import { startFakeServers } from "./fake-servers.js";

export interface RedisFakes {
  /** Answers with a type byte RESP does not have. */
  garbage: number;
  /** Declares a 4 GiB blob string and sends nothing more. */
  hugeBulk: number;
  /** Nests arrays 100 deep. */
  deep: number;
  /** Answers HELLO twice: a reply nobody asked for. */
  unsolicited: number;
  /** Answers HELLO, then cuts the next reply short and closes. */
  truncated: number;
  /** Accepts and never answers. */
  silent: number;
  /** Answers HELLO, then closes 30 ms later: a server (or proxy) that drops every client soon after letting it in. */
  flappy: number;
  /** Answers HELLO with +OK and everything after with +PONG; closes a connection idle for 100 ms. */
  idler: number;
}

type Behaviour = (socket: net.Socket, request: number) => void;

const idleTimers = new WeakMap<net.Socket, ReturnType<typeof setTimeout>>();

const behaviours: Record<keyof RedisFakes, Behaviour> = {
  garbage: (socket) => socket.write("?what\r\n"),
  hugeBulk: (socket) => socket.write("$4294967296\r\n"),
  deep: (socket) => socket.write(`${"*1\r\n".repeat(100)}:1\r\n`),
  unsolicited: (socket) => socket.write("+OK\r\n+OK\r\n"),
  truncated: (socket, request) => {
    if (request === 0) socket.write("+OK\r\n");
    else socket.end("$10\r\nabc");
  },
  silent: () => {},
  idler: (socket, request) => {
    socket.write(request === 0 ? "+OK\r\n" : "+PONG\r\n");
    clearTimeout(idleTimers.get(socket));
    idleTimers.set(
      socket,
      setTimeout(() => socket.destroy(), 100),
    );
    if (request === 0) socket.once("close", () => clearTimeout(idleTimers.get(socket)));
  },
  flappy: (socket, request) => {
    if (request > 0) return;
    socket.write("+OK\r\n");
    const drop = setTimeout(() => socket.destroy(), 30);
    socket.once("close", () => clearTimeout(drop));
  },
};

export function startRedisFakes(): Promise<{ ports: RedisFakes; close(): Promise<void> }> {
  const handlers = {} as Record<keyof RedisFakes, (socket: net.Socket) => void>;
  for (const [name, behave] of Object.entries(behaviours) as Array<[keyof RedisFakes, Behaviour]>) {
    handlers[name] = (socket) => {
      let requests = 0;
      socket.on("data", () => behave(socket, requests++));
    };
  }
  return startFakeServers(handlers);
}
