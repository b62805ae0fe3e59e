/**
 * What the gateway tells its operator, in workerd and on Node: one log line per request (with no
 * secret in it), x-request-id, and GET /metrics in the Prometheus text format, read back with a
 * parser of that format and checked against the requests made.
 */
import { describe, expect, it } from "vitest";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { Connect } from "@sockkit/core";
import { createGateway, type RequestLogEntry } from "@sockkit/gateway";
import type { MqttTestEnv } from "../harness/node/mqtt.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import type { SocketTestEnv } from "../harness/node/servers.js";
import { waitUntil } from "../harness/shared/promises.js";

export interface GatewayTelemetryConformanceOptions {
  runtime: "workerd" | "node";
  connect: Connect;
  sockets: SocketTestEnv;
  redis: RedisTestEnv;
  mqtt: MqttTestEnv;
  observe?: (request: Request, response: Response) => Promise<void>;
}

interface Sample {
  labels?: Record<string, string>;
  value: string;
}
interface MetricFamily {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: Sample[];
}
interface HistogramSeries {
  labels: Record<string, string>;
  /** Upper bound ("+Inf" last) to cumulative count, in the order exposed. */
  buckets: Array<[string, number]>;
  sum: number;
  count: number;
}

/**
 * Reads the exposition text with parse-prometheus-text-format, which throws on any line that is not
 * in the format. Its histogram grouping drops labels (yunyu/parse-prometheus-text-format#13, fix
 * unmerged), so histograms are read a second time as untyped samples and grouped here.
 */
function readExposition(text: string) {
  const families = parsePrometheusTextFormat(text) as MetricFamily[];
  const untyped = parsePrometheusTextFormat(
    text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped"),
  ) as MetricFamily[];
  const histogram = (name: string): HistogramSeries[] => {
    expect(families.find((f) => f.name === name)?.type, name).toBe("HISTOGRAM");
    // A family's series come one after another (buckets, sum, count), so each suffix recurs.
    const samplesOf = (suffixed: string) => untyped.filter((f) => f.name === suffixed).flatMap((f) => f.metrics);
    const out = new Map<string, HistogramSeries>();
    const seriesOf = (labels: Record<string, string> = {}) => {
      const { le: _le, ...rest } = labels;
      const key = JSON.stringify(rest);
      let series = out.get(key);
      if (!series) out.set(key, (series = { labels: rest, buckets: [], sum: NaN, count: NaN }));
      return series;
    };
    for (const m of samplesOf(`${name}_bucket`)) seriesOf(m.labels).buckets.push([m.labels!.le!, Number(m.value)]);
    for (const m of samplesOf(`${name}_sum`)) seriesOf(m.labels).sum = Number(m.value);
    for (const m of samplesOf(`${name}_count`)) seriesOf(m.labels).count = Number(m.value);
    return [...out.values()];
  };
  return { families, histogram };
}

export function gatewayTelemetryConformance({
  runtime,
  connect,
  sockets,
  redis,
  mqtt,
  observe,
}: GatewayTelemetryConformanceOptions): void {
  const local = "127.0.0.1";
  const TOKEN = `tok-${runtime}-7f3a-never-logged`;
  const make = (logs: RequestLogEntry[]) => {
    const handler = createGateway({
      connect,
      token: TOKEN,
      allow: [
        { host: local, ports: [redis.shared.port, redis.auth.port, mqtt.mosquitto, sockets.refused] },
        { host: "::1", ports: sockets.echo6 },
      ],
      limits: { connectTimeoutMs: 2000, operationTimeoutMs: 2000 },
      log: (entry) => logs.push(entry),
    });
    const call = async (path: string, init: RequestInit = {}, token = TOKEN) => {
      const request = new Request(`http://gateway.test${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
      });
      const response = await handler.fetch(request, { clientAddress: "telemetry" });
      await observe?.(request, response);
      return response;
    };
    const post = (path: string, body: unknown, headers: Record<string, string> = {}, token = TOKEN) =>
      call(
        path,
        { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } },
        token,
      );
    const exposition = async () => {
      const response = await call("/metrics");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      return readExposition(await response.text());
    };
    const metrics = async () => (await exposition()).families;
    return { call, post, metrics, exposition };
  };

  describe(`gateway logs, request ids and metrics (${runtime})`, () => {
    it("one log line per request, and never the token, a Redis argument, a password or a payload", async () => {
      const logs: RequestLogEntry[] = [];
      const { call, post } = make(logs);
      const key = `telemetry:${runtime}:${Math.random()}`;
      const secrets = {
        token: TOKEN,
        wrongToken: "wrong-token-c0ffee",
        argument: "argument-secret-9c1d",
        password: redis.auth.password,
        payload: "payload-secret-31e7",
        relayed: "relay-secret-5b2a",
        key,
      };
      const responses = [
        await post("/redis", { host: local, port: redis.shared.port, command: ["SET", key, secrets.argument] }),
        await post("/redis", { host: local, port: redis.shared.port, command: ["GET", key] }),
        await post("/redis", { host: local, port: redis.auth.port, password: secrets.password, command: ["PING"] }),
        await post("/redis", { host: local, port: redis.shared.port, command: ["FLUSHALL"] }),
        await post("/redis", { host: local, port: redis.shared.port, command: [secrets.argument, key] }),
        await post("/mqtt/publish", { host: local, port: mqtt.mosquitto, topic: `t/${key}`, payload: secrets.payload }),
        await call(`/tcp?host=::1&port=${sockets.echo6}`, { method: "POST", body: secrets.relayed }),
        await call(`/probe/redis?host=${local}&port=${redis.shared.port}`, {}, secrets.wrongToken),
        await call(`/probe/tcp?host=${local}&port=${sockets.refused}`),
        await call("/nowhere"),
      ];
      const statuses = [];
      for (const response of responses) {
        statuses.push(response.status);
        await response.arrayBuffer();
      }
      expect(statuses).toEqual([200, 200, 200, 403, 502, 200, 200, 401, 502, 404]);
      await post("/redis", { host: local, port: redis.shared.port, command: ["DEL", key] });
      expect(logs).toHaveLength(responses.length + 1);
      const text = logs.map((entry) => JSON.stringify(entry)).join("\n");
      for (const [what, secret] of Object.entries(secrets))
        expect(text, `the log holds the ${what}`).not.toContain(secret);

      const redisPort = redis.shared.port;
      expect(logs[0]).toMatchObject({
        level: "info",
        msg: "request",
        method: "POST",
        route: "/redis",
        status: 200,
        caller: "token",
        client: "telemetry",
        upstream: `redis://${local}:${redisPort}`,
        command: "SET",
      });
      expect(logs[3]).toMatchObject({
        level: "warn",
        status: 403,
        command: "FLUSHALL",
        error: "ECOMMAND_DENIED",
        reason: "-@dangerous",
      });
      // A command Redis's table does not know is not named: it may be a mistyped secret.
      expect(logs[4]).toMatchObject({ status: 502, error: "EREPLY" });
      expect(logs[4]).not.toHaveProperty("command");
      expect(logs[5]).toMatchObject({ route: "/mqtt/publish", upstream: `mqtt://${local}:${mqtt.mosquitto}` });
      expect(logs[6]).toMatchObject({ route: "/tcp", upstream: `tcp://[::1]:${sockets.echo6}`, status: 200 });
      expect(logs[7]).toMatchObject({ status: 401, error: "EUNAUTHORIZED", route: "/probe/redis" });
      expect(logs[7]).not.toHaveProperty("caller");
      expect(logs[8]).toMatchObject({ level: "error", status: 502, error: "ECONNECT" });
      expect(logs[9]).toMatchObject({ route: "unmatched", status: 404 });
      for (const entry of logs) {
        expect(entry.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(entry.durationMs).toBeGreaterThanOrEqual(0);
        expect(new Date(entry.time).toISOString()).toBe(entry.time);
      }
      expect(new Set(logs.map((entry) => entry.requestId)).size).toBe(logs.length);
    });

    it("x-request-id: a well-formed one is echoed and logged; a missing, long or odd one is replaced", async () => {
      const logs: RequestLogEntry[] = [];
      const { call } = make(logs);
      const given = "req-01HZY3K6-abc_def.42:7";
      const echoed = await call("/health", { headers: { "x-request-id": given } });
      expect(echoed.headers.get("x-request-id")).toBe(given);
      expect(logs.at(-1)).toMatchObject({ requestId: given, route: "/health", status: 200 });
      for (const bad of ["x".repeat(129), "has space", "new\\nline", 'quote"', ""]) {
        const response = await call("/nowhere", { headers: { "x-request-id": bad } });
        const id = response.headers.get("x-request-id")!;
        expect(id, bad).toMatch(/^[0-9a-f-]{36}$/);
        expect(logs.at(-1)!.requestId).toBe(id);
        await response.arrayBuffer();
      }
      const page = await call("/");
      expect(page.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      await page.arrayBuffer();
      const longest = "a".repeat(128);
      expect((await call("/health", { headers: { "x-request-id": longest } })).headers.get("x-request-id")).toBe(
        longest,
      );
    });

    it("GET /metrics: requests by route and status, denials by reason, upstream latency by protocol, open connections", async () => {
      const { call, post, exposition } = make([]);
      const drain = async (response: Response | Promise<Response>) => (await (await response).arrayBuffer(), undefined);
      for (let i = 0; i < 3; i++)
        await drain(post("/redis", { host: local, port: redis.shared.port, command: ["PING"] }));
      for (let i = 0; i < 2; i++)
        await drain(post("/redis", { host: local, port: redis.shared.port, command: ["FLUSHALL"] }));
      await drain(post("/redis", { host: local, port: redis.shared.port, command: ["PING"] }, {}, "wrong"));
      await drain(call(`/probe/mqtt?host=${local}&port=${mqtt.mosquitto}`));
      await drain(call(`/probe/tcp?host=${local}&port=${sockets.refused}`));
      await drain(call(`/probe/redis?host=169.254.169.254`));
      for (let i = 0; i < 20; i++) await drain(call(`/random/${Math.random()}`));
      await drain(call("/metrics", {}, "wrong"));

      const { families, histogram } = await exposition();
      const family = (name: string) => {
        const found = families.find((f) => f.name === name);
        expect(found, name).toBeDefined();
        return found!;
      };
      const value = (name: string, labels: Record<string, string>) =>
        Number(
          family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ?? 0,
        );
      expect(family("sockkit_gateway_requests_total").type).toBe("COUNTER");
      expect(value("sockkit_gateway_requests_total", { route: "/redis", method: "POST", status: "200" })).toBe(3);
      expect(value("sockkit_gateway_requests_total", { route: "/redis", method: "POST", status: "403" })).toBe(2);
      expect(value("sockkit_gateway_requests_total", { route: "/redis", method: "POST", status: "401" })).toBe(1);
      expect(value("sockkit_gateway_requests_total", { route: "/metrics", method: "GET", status: "401" })).toBe(1);
      // Paths nobody routes share one series: a caller cannot grow the label set.
      const unmatched = family("sockkit_gateway_requests_total").metrics.filter((m) => m.labels?.route === "unmatched");
      expect(unmatched).toHaveLength(1);
      expect(Number(unmatched[0]!.value)).toBe(20);
      expect(value("sockkit_gateway_denials_total", { reason: "command" })).toBe(2);
      expect(value("sockkit_gateway_denials_total", { reason: "unauthorized" })).toBe(2);
      expect(value("sockkit_gateway_denials_total", { reason: "destination" })).toBe(1);

      const latencies = histogram("sockkit_gateway_upstream_duration_seconds");
      const series = (protocol: string, outcome: string) =>
        latencies.find((s) => s.labels.protocol === protocol && s.labels.outcome === outcome);
      expect(series("redis", "ok")?.count).toBe(3);
      expect(series("mqtt", "ok")?.count).toBe(1);
      expect(series("tcp", "error")?.count).toBe(1);
      expect(latencies).toHaveLength(3);
      for (const s of latencies) {
        const bounds = s.buckets.map(([le]) => le);
        expect(bounds.at(-1)).toBe("+Inf");
        expect(bounds.slice(0, -1).map(Number)).toEqual([...bounds.slice(0, -1).map(Number)].sort((a, b) => a - b));
        const counts = s.buckets.map(([, n]) => n);
        for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
        expect(counts.at(-1)).toBe(s.count);
        expect(s.sum).toBeGreaterThanOrEqual(0);
      }
      expect(family("sockkit_gateway_upstream_connections").type).toBe("GAUGE");
      const start = value("sockkit_gateway_start_time_seconds", {});
      expect(Math.abs(start - Date.now() / 1000)).toBeLessThan(600);
    });

    it("open upstream connections: one while a relay runs, none once every request is over", async () => {
      const { call, metrics } = make([]);
      const open = async () => {
        const gauge = (await metrics()).find((f) => f.name === "sockkit_gateway_upstream_connections")!;
        return Object.fromEntries(gauge.metrics.map((m) => [m.labels!.protocol, Number(m.value)]));
      };
      expect(await open()).toEqual({ redis: 0, mqtt: 0, tcp: 0 });
      let finish!: () => void;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("held"));
          finish = () => controller.close();
        },
      });
      const relay = await call(`/tcp?host=::1&port=${sockets.echo6}`, {
        method: "POST",
        body,
        duplex: "half",
      } as RequestInit);
      expect(relay.status).toBe(200);
      expect(await open()).toEqual({ redis: 0, mqtt: 0, tcp: 1 });
      finish();
      expect(await relay.text()).toBe("held");
      await Promise.all([
        call(`/probe/redis?host=${local}&port=${redis.shared.port}`).then((r) => r.arrayBuffer()),
        call(`/probe/mqtt?host=${local}&port=${mqtt.mosquitto}`).then((r) => r.arrayBuffer()),
        call(`/probe/tcp?host=${local}&port=${sockets.refused}`).then((r) => r.arrayBuffer()),
      ]);
      const closed = { redis: 0, mqtt: 0, tcp: 0 };
      await waitUntil(async () => JSON.stringify(await open()) === JSON.stringify(closed), 3000);
      expect(await open()).toEqual(closed);
    });
  });
}
