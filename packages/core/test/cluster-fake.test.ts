// The cluster client against scripted in-memory nodes, for what a real Redis 7.0 cluster does not do
// on demand: a server without CLUSTER SHARDS (before 7.0), MOVED with an empty host, a redirection
// loop, CLUSTERDOWN that clears (or does not) within the deadline.
import { describe, expect, it } from "vitest";
import { createRedisCluster } from "../src/redis/cluster/cluster.js";
import { RespDecoder, type RespValue } from "../src/redis/resp/decoder.js";
import type { Connect, SocketAddress, SocketLike } from "../src/types.js";

const utf8 = new TextEncoder();
const bulk = (s: string) => `$${utf8.encode(s).length}\r\n${s}\r\n`;
/** CLUSTER SLOTS for one master serving every slot. */
const slotsReply = (port: number) =>
  `*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n${bulk("127.0.0.1")}:${port}\r\n${bulk(`id${port}`)}`;

type Handler = (port: number, args: string[]) => string;

/** Nodes on 127.0.0.1 that answer each command with `handler`'s raw RESP; every command is logged. */
function fakeNodes(handler: Handler) {
  const log: Array<[number, string]> = [];
  const sockets: Array<{ closed: boolean }> = [];
  const connect: Connect = (address) => {
    const { port } = address as SocketAddress;
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const state = { closed: false };
    sockets.push(state);
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    const decoder = new RespDecoder({
      onReply: (value: RespValue) => {
        const args = (value as RespValue[]).map(String);
        log.push([port, args.join(" ")]);
        if (!state.closed) push.enqueue(utf8.encode(handler(port, args)));
      },
    });
    const socket: SocketLike = {
      readable: new ReadableStream({ start: (c) => void (push = c) }),
      writable: new WritableStream({ write: (chunk) => decoder.feed(chunk) }),
      opened: Promise.resolve({ remoteAddress: `127.0.0.1:${port}` }),
      closed,
      upgraded: false,
      secureTransport: "off",
      close: async () => {
        if (!state.closed) {
          state.closed = true;
          push.close();
          markClosed();
        }
      },
      startTls: () => socket,
    };
    return socket;
  };
  return { connect, log, open: () => sockets.filter((s) => !s.closed).length };
}

/** The usual answers: HELLO, QUIT, one master on 7000 (CLUSTER SLOTS only, as before Redis 7.0). */
function basics(port: number, args: string[]): string | undefined {
  const command = args.join(" ").toUpperCase();
  if (command.startsWith("HELLO")) return "%0\r\n";
  if (command === "QUIT") return "+OK\r\n";
  if (command === "CLUSTER SHARDS") return "-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n";
  if (command === "CLUSTER SLOTS") return slotsReply(7000);
  void port;
  return undefined;
}

describe("Redis Cluster client against scripted nodes", () => {
  it("a server before Redis 7.0 (no CLUSTER SHARDS): the topology comes from CLUSTER SLOTS, asked directly from then on", async () => {
    const fake = fakeNodes((port, args) => basics(port, args) ?? bulk(`${args[1]}@${port}`));
    const cluster = createRedisCluster({ connect: fake.connect, nodes: ["127.0.0.1:7000"] });
    expect(await cluster.get("a")).toBe("a@7000");
    await (cluster as unknown as { connect(): Promise<void> }).connect();
    expect(cluster.shards()).toEqual([{ master: "127.0.0.1:7000", replicas: [] }]);
    const asked = fake.log.filter(([, c]) => c.startsWith("CLUSTER")).map(([, c]) => c);
    expect(asked).toEqual(["CLUSTER SHARDS", "CLUSTER SLOTS"]);
    await cluster.close();
    expect(fake.open()).toBe(0);
  });

  it("MOVED with an empty host means the host of the node that answered; the slot map follows it at once", async () => {
    let moved = false;
    const fake = fakeNodes((port, args) => {
      const known = basics(port, args);
      if (known !== undefined) return known;
      if (port === 7000 && !moved) {
        moved = true;
        return "-MOVED 15495 :7001\r\n"; // "a" hashes to 15495
      }
      return bulk(`${args[0]} on ${port}`);
    });
    const cluster = createRedisCluster({ connect: fake.connect, nodes: ["127.0.0.1:7000"] });
    expect(await cluster.get("a")).toBe("GET on 7001");
    expect(await cluster.get("a")).toBe("GET on 7001"); // the slot is 7001's now, without asking 7000
    expect(fake.log.filter(([, c]) => c === "GET a").map(([p]) => p)).toEqual([7000, 7001, 7001]);
    await cluster.close();
  });

  it("a redirection loop ends after maxRedirections, with the last error", async () => {
    const fake = fakeNodes((port, args) => {
      const known = basics(port, args);
      if (known !== undefined) return known;
      return `-MOVED 15495 127.0.0.1:${port === 7000 ? 7001 : 7000}\r\n`;
    });
    const cluster = createRedisCluster({ connect: fake.connect, nodes: ["127.0.0.1:7000"], maxRedirections: 3 });
    const error = await cluster.get("a").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "EREPLY", prefix: "MOVED" });
    expect((error as Error).message).toMatch(/gave up after 3 redirections: maxRedirections/);
    expect(fake.log.filter(([, c]) => c === "GET a")).toHaveLength(4);
    await cluster.close();
  });

  it("CLUSTERDOWN is retried with backoff (reading the topology again) until it clears; past the deadline the error stands", async () => {
    let downFor = 10; // longer than the 100 ms between two topology reads
    const fake = fakeNodes((port, args) => {
      const known = basics(port, args);
      if (known !== undefined) return known;
      if (args[1] === "stuck" || downFor-- > 0) return "-CLUSTERDOWN The cluster is down\r\n";
      return bulk("up");
    });
    const cluster = createRedisCluster({
      connect: fake.connect,
      nodes: ["127.0.0.1:7000"],
      reconnect: { baseDelayMs: 10, maxDelayMs: 40 },
      commandTimeoutMs: 400,
    });
    expect(await cluster.get("a")).toBe("up");
    expect(fake.log.filter(([, c]) => c === "CLUSTER SLOTS").length).toBeGreaterThan(1);
    const started = Date.now();
    const error = await cluster.get("stuck").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "EREPLY", prefix: "CLUSTERDOWN" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(Date.now() - started).toBeLessThan(2000);
    await cluster.close();
  });

  it("a command aborted while it waits to be retried rejects with the signal's reason at once", async () => {
    const fake = fakeNodes(
      (port, args) => basics(port, args) ?? "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
    );
    const cluster = createRedisCluster({ connect: fake.connect, nodes: ["127.0.0.1:7000"] });
    const controller = new AbortController();
    const pending = cluster
      .with({ signal: controller.signal })
      .get("a")
      .catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort(new Error("stop"));
    expect(await pending).toMatchObject({ message: "stop" });
    await cluster.close();
  });
});
