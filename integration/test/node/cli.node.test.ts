// The gateway served on Node over HTTP (load and shutdown), and the sockkit CLI's commands and exit codes.
import { execFile, spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, inject, it } from "vitest";
import { serveGateway } from "@sockkit/cli";
import { freePort } from "../../harness/processes.js";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../../packages/cli/dist/bin.js", import.meta.url));
const redis = inject("redis");
const mqtt = inject("mqtt");
const sockets = inject("sockets");

async function sockkit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

// Registered first so it runs last: the served gateway and its upstream sockets are all closed.
afterAll(async () => {
  const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
  for (let i = 0; i < 40 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours()).toEqual([]);
});

describe("the gateway served on Node (@hono/node-server)", () => {
  it("serves 1,000 probes at concurrency 50 without an error, then shuts down cleanly", async () => {
    const gateway = await serveGateway({
      port: 0,
      allow: [{ host: "127.0.0.1", ports: redis.shared.port }],
      limits: { maxConcurrentPerClient: 64 },
    });
    try {
      const url = `${gateway.url}/probe/redis?host=127.0.0.1&port=${redis.shared.port}`;
      let next = 0;
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          while (next < 1000) {
            next++;
            const response = await fetch(url);
            statuses.push(response.status);
            await response.arrayBuffer();
          }
        }),
      );
      expect(statuses).toHaveLength(1000);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      const denied = await fetch(`${gateway.url}/probe/tcp?host=2130706433&port=${sockets.echo}`);
      expect(denied.status).toBe(403);
      await denied.arrayBuffer();
    } finally {
      await gateway.close();
    }
  });
});

describe("the sockkit CLI", () => {
  it("--help exits 0; no command, an unknown command or a bad flag exit 2 with the reason", async () => {
    expect(await sockkit("--help")).toMatchObject({ code: 0, stdout: expect.stringContaining("sockkit probe URL") });
    expect((await sockkit()).code).toBe(2);
    expect(await sockkit("launch")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command "launch"'),
    });
    expect(await sockkit("probe", "--nope")).toMatchObject({ code: 2 });
    expect(await sockkit("probe", "ftp://x")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unsupported scheme"),
    });
    expect(await sockkit("probe", "not a url")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("is not a URL"),
    });
    expect(await sockkit("gateway", "--allow", "no-port")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("HOST:PORTS"),
    });
  });

  it("probe: redis, mqtt and tcp URLs; an unreachable one exits 1 with its error code", async () => {
    expect(await sockkit("probe", `redis://127.0.0.1:${redis.shared.port}`)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok PONG/),
    });
    expect(await sockkit("probe", `mqtt://127.0.0.1:${mqtt.mosquitto}`)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^ok CONNACK/),
    });
    expect(await sockkit("probe", `tcp://127.0.0.1:${sockets.echo}`)).toMatchObject({ code: 0 });
    expect(await sockkit("probe", `tcp://127.0.0.1:${sockets.refused}`)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("ECONNECT"),
    });
  });

  it("redis and mqtt pub/sub commands", async () => {
    const key = `cli:${Math.random()}`;
    const url = `redis://127.0.0.1:${redis.shared.port}`;
    expect(await sockkit("redis", "--url", url, "SET", key, "v")).toMatchObject({ code: 0, stdout: "OK\n" });
    expect(await sockkit("redis", "--url", url, "GET", key)).toMatchObject({ code: 0, stdout: "v\n" });
    expect(await sockkit("redis", "--url", url, "DEL", key)).toMatchObject({ code: 0, stdout: "1\n" });
    const broker = `mqtt://127.0.0.1:${mqtt.mosquitto}`;
    const topic = `cli/${Math.random().toString(36).slice(2)}`;
    const subscribing = sockkit("mqtt", "sub", "--url", broker, topic, "--count", "1", "--qos", "1");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await sockkit("mqtt", "pub", "--url", broker, topic, "hello", "--qos", "1")).toMatchObject({ code: 0 });
    expect(await subscribing).toMatchObject({ code: 0, stdout: `${topic} hello\n` });
    expect(await sockkit("mqtt", "pub", "--url", broker, topic, "x", "--qos", "3")).toMatchObject({ code: 2 });
  });
});

describe("sockkit gateway --demo (what npm start runs)", () => {
  it("prints curl lines that work as printed, and SIGTERM shuts it down with its broker and redis-server", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [bin, "gateway", "--demo", "--port", String(port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!/refused: 403/.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const curls = output
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line.startsWith("curl "));
      // The broker and redis-server are on the machine (the suite's prerequisites): all five lines.
      expect(curls).toHaveLength(5);
      const upstreamPorts = new Set<number>();
      for (const line of curls) {
        const [command, comment] = line.split("   # ");
        const { stdout } = await run("sh", ["-c", `${command} -w '\\n%{http_code}'`], { timeout: 10_000 });
        const status = Number(stdout.trim().split("\n").pop());
        expect(status, line).toBe(comment?.includes("403") ? 403 : 200);
        for (const match of command!.matchAll(/port[=":]+(\d+)/g)) upstreamPorts.add(Number(match[1]));
      }
      expect(upstreamPorts.size).toBe(2);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(output).toContain("shutting down");
      // Nothing of the demo is left listening: the gateway, the broker, redis-server.
      for (const closed of [port, ...upstreamPorts]) expect(await listening(closed), `port ${closed}`).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
