/**
 * The gateway's sockkit:gateway:request TracingChannel, in workerd (nodejs_compat) and on Node:
 * published through the diagnostics_channel its connect carries, with the request's route, status,
 * upstream and id; an error event for a 5xx; nothing when the connect carries none.
 */
import { describe, expect, it } from "vitest";
import type { Connect } from "@sockkit/core";
import { diagnosticsChannel, forwardCapabilities, type TraceableConnect } from "@sockkit/core/adapter";
import { createGateway } from "@sockkit/gateway";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import type { SocketTestEnv } from "../harness/node/servers.js";
type Handlers = Record<(typeof EVENTS)[number], (message: unknown) => void>;

/** The part of node:diagnostics_channel the suite uses. */
export interface Diagnostics {
  tracingChannel(name: string): { subscribe(handlers: Handlers): void; unsubscribe(handlers: Handlers): void };
}

export interface GatewayTracingConformanceOptions {
  runtime: "workerd" | "node";
  connect: Connect;
  diagnostics: Diagnostics;
  sockets: SocketTestEnv;
  redis: RedisTestEnv;
}

const EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"] as const;

export function gatewayTracingConformance({
  runtime,
  connect,
  diagnostics,
  sockets,
  redis,
}: GatewayTracingConformanceOptions) {
  const local = "127.0.0.1";
  const traced: TraceableConnect = forwardCapabilities(connect, (address, options) => connect(address, options));
  traced[diagnosticsChannel] = diagnostics as never;
  const allow = [{ host: local, ports: [redis.shared.port, sockets.refused] }];

  /** Every event while `run` runs, each with a copy of the context as it was then. */
  async function recorded(run: () => Promise<void>) {
    const events: Array<{ event: string; context: Record<string, unknown> }> = [];
    const handlers = Object.fromEntries(
      EVENTS.map((event) => [
        event,
        (message: unknown) => void events.push({ event, context: { ...(message as object) } }),
      ]),
    ) as Handlers;
    const channel = diagnostics.tracingChannel("sockkit:gateway:request");
    channel.subscribe(handlers);
    try {
      await run();
    } finally {
      channel.unsubscribe(handlers);
    }
    return events;
  }

  describe(`gateway tracing: sockkit:gateway:request (${runtime})`, () => {
    it("start, end, asyncStart, asyncEnd per request; the context ends with route, status, upstream, id", async () => {
      const gateway = createGateway({ connect: traced, allow, log: false });
      const events = await recorded(async () => {
        const response = await gateway.fetch(
          new Request(`http://gateway.test/probe/redis?host=${local}&port=${redis.shared.port}`, {
            headers: { "x-request-id": `trace-${runtime}` },
          }),
        );
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      });
      expect(events.map((e) => e.event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      expect(events[0]!.context).toEqual({ requestId: `trace-${runtime}`, method: "GET", route: "unmatched" });
      expect(events[3]!.context).toMatchObject({
        requestId: `trace-${runtime}`,
        method: "GET",
        route: "/probe/redis",
        status: 200,
        upstream: `redis://${local}:${redis.shared.port}`,
      });
      expect(events[3]!.context.result).toBeInstanceOf(Response);
    });

    it("a 5xx publishes an error event with the error; a policy refusal (403) does not", async () => {
      const gateway = createGateway({ connect: traced, allow, log: false });
      const events = await recorded(async () => {
        for (const path of [`/probe/tcp?host=${local}&port=${sockets.refused}`, `/probe/redis?host=169.254.169.254`]) {
          const response = await gateway.fetch(new Request(`http://gateway.test${path}`));
          await response.arrayBuffer();
        }
        const refused = await gateway.fetch(
          new Request("http://gateway.test/redis", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ host: local, port: redis.shared.port, command: ["FLUSHALL"] }),
          }),
        );
        expect(refused.status).toBe(403);
      });
      const errors = events.filter((e) => e.event === "error");
      expect(errors).toHaveLength(1);
      expect(errors[0]!.context).toMatchObject({ route: "/probe/tcp", upstream: `tcp://${local}:${sockets.refused}` });
      expect((errors[0]!.context.error as { code?: string }).code).toBe("ECONNECT");
      const ends = events.filter((e) => e.event === "asyncEnd").map((e) => [e.context.route, e.context.status]);
      expect(ends).toEqual([
        ["/probe/tcp", 502],
        ["/probe/redis", 403],
        ["/redis", 403],
      ]);
    });

    it("nothing is published for a gateway whose connect carries no diagnostics_channel", async () => {
      // A wrapper that passes no capability on (adapter-node's own connect carries Node's).
      const bare: Connect = (address, options) => connect(address, options);
      const gateway = createGateway({ connect: bare, allow, log: false });
      const events = await recorded(async () => {
        await (await gateway.fetch(new Request("http://gateway.test/health"))).arrayBuffer();
      });
      expect(events).toEqual([]);
    });
  });
}
