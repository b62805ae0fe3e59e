// The gateway served on Node over HTTP (load and shutdown), and the sockkit CLI's commands and exit codes.
import { execFile, spawn } from "node:child_process";
import diagnostics from "node:diagnostics_channel";
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { serveGateway } from "@sockkit/cli";
import { freePort } from "../../harness/node/processes.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));
const cliDir = join(root, "packages/cli");
const cliPackage = JSON.parse(readFileSync(join(cliDir, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
};
// The file npm links as `sockkit`: what a user runs.
const bin = join(cliDir, cliPackage.bin.sockkit!);
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

describe("the gateway served on Node (@hono/node-server)", () => {
  it("serves 1,000 probes at concurrency 50 without an error, then shuts down cleanly", async () => {
    const gateway = await serveGateway({
      port: 0,
      log: false,
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

describe("the gateway served on Node publishes sockkit:gateway:request", () => {
  it("through Node's diagnostics_channel, which serveGateway gives the gateway's connect", async () => {
    const gateway = await serveGateway({
      port: 0,
      log: false,
      allow: [{ host: "127.0.0.1", ports: redis.shared.port }],
    });
    const ended: Array<Record<string, unknown>> = [];
    const noop = () => {};
    const handlers = {
      start: noop,
      end: noop,
      asyncStart: noop,
      error: noop,
      asyncEnd: (message: unknown) => void ended.push({ ...(message as object) }),
    };
    const channel = diagnostics.tracingChannel("sockkit:gateway:request");
    channel.subscribe(handlers);
    try {
      const response = await fetch(`${gateway.url}/probe/redis?host=127.0.0.1&port=${redis.shared.port}`, {
        headers: { "x-request-id": "served-1" },
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    } finally {
      channel.unsubscribe(handlers);
      await gateway.close();
    }
    expect(ended).toEqual([expect.objectContaining({ requestId: "served-1", route: "/probe/redis", status: 200 })]);
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

  it("--help, -h and help COMMAND print each command's usage and exit 0; --version prints the version", async () => {
    const pages: Array<[string[], string]> = [
      [["--help"], "sockkit: raw TCP"],
      [["-h"], "sockkit: raw TCP"],
      [["help"], "sockkit: raw TCP"],
      [["gateway", "--help"], "Usage: sockkit gateway"],
      [["gateway", "-h"], "Usage: sockkit gateway"],
      [["gateway", "--port", "1", "--help"], "Usage: sockkit gateway"],
      [["help", "gateway"], "Usage: sockkit gateway"],
      [["probe", "--help"], "Usage: sockkit probe"],
      [["redis", "--help"], "Usage: sockkit redis"],
      [["mqtt", "--help"], "Usage: sockkit mqtt pub|sub"],
      [["mqtt", "pub", "--help"], "Usage: sockkit mqtt pub"],
      [["mqtt", "sub", "-h"], "Usage: sockkit mqtt sub"],
      [["help", "mqtt", "sub"], "Usage: sockkit mqtt sub"],
    ];
    for (const [args, start] of pages) {
      const result = await sockkit(...args);
      expect(result, args.join(" ")).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout.startsWith(start), `${args.join(" ")}:\n${result.stdout}`).toBe(true);
      expect(result.stdout, args.join(" ")).toContain("Exit codes: 0 done");
    }
    expect(await sockkit("--version")).toEqual({ code: 0, stdout: `${cliPackage.version}\n`, stderr: "" });
  });

  it("a usage error exits 2 and points at the help of the command it was in", async () => {
    expect(await sockkit("gateway", "--bogus")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Run sockkit gateway --help"),
    });
    expect(await sockkit("gateway", "stray")).toMatchObject({ code: 2 });
    expect(await sockkit("redis")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Run sockkit redis --help"),
    });
    expect(await sockkit("mqtt")).toMatchObject({ code: 2, stderr: expect.stringContaining("mqtt needs pub or sub") });
    expect(await sockkit("mqtt", "pub", "t")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Run sockkit mqtt pub --help"),
    });
    expect(await sockkit("mqtt", "sub", "t", "--retain")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--retain is for mqtt pub"),
    });
    expect(await sockkit("help", "launch")).toMatchObject({ code: 2, stderr: expect.stringContaining("no help") });
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

describe("the sockkit executable in the repository (npx sockkit after npm ci && npm start)", () => {
  // npm links a workspace's bin only if the file exists when it installs, and npm ci runs before the
  // build: a bin inside dist/ is never linked on a fresh clone.
  it("is a committed, executable file outside dist/, and it is what node_modules/.bin/sockkit links to", async () => {
    const relative = cliPackage.bin.sockkit!.replace(/^\.\//, "");
    expect(relative.startsWith("dist/")).toBe(false);
    const { stdout } = await run("git", ["ls-files", "--stage", "--", relative], { cwd: cliDir });
    expect(stdout, "the bin is tracked by git, with mode 100755").toMatch(/^100755 /);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    expect(realpathSync(join(root, "node_modules/.bin/sockkit"))).toBe(realpathSync(bin));
  });

  it("npx sockkit --help runs from the repository's root", async () => {
    // A shell's environment: not the npm_* settings of the npm (or npx) that may have started this test.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
    // --no: never fetch a package called sockkit from the registry when the link is missing.
    const { stdout } = await run("npx", ["--no", "--", "sockkit", "--help"], { cwd: root, env, timeout: 30_000 });
    expect(stdout).toContain("sockkit probe URL");
  });

  it("before the build, it says to build instead of failing with a stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockkit-bin-"));
    try {
      const copy = join(dir, "bin", "sockkit.js");
      await run("mkdir", ["-p", dirname(copy)]);
      copyFileSync(bin, copy);
      const result = await run(process.execPath, [copy, "--help"]).catch(
        (error: { code: number; stderr: string }) => error,
      );
      expect(result).toMatchObject({ code: 1, stderr: expect.stringContaining("npm run build") });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("sockkit gateway's rights: --tokens, --read-only, --redis-commands, --mqtt-publish", () => {
  it("serves each token with its own rights, and refuses bad rules, filters and files as usage errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockkit-tokens-"));
    const file = join(dir, "tokens.json");
    writeFileSync(
      file,
      JSON.stringify([
        { token: "reader-secret", name: "reader" },
        { token: "ops-secret", name: "ops", redisCommands: "+@all -@dangerous +config|get", mqttPublish: ["ops/#"] },
      ]),
    );
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        bin,
        "gateway",
        "--port",
        String(port),
        "--allow",
        `127.0.0.1:${redis.shared.port},${mqtt.mosquitto}`,
        "--tokens",
        file,
        "--read-only",
        "--mqtt-publish",
        "public/#",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const call = async (token: string, path: string, body: unknown) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return [response.status, ((await response.json()) as { error?: { reason?: string } }).error?.reason] as const;
    };
    const redisAs = (token: string, ...command: string[]) =>
      call(token, "/redis", { host: "127.0.0.1", port: redis.shared.port, command });
    const publishAs = (token: string, topic: string) =>
      call(token, "/mqtt/publish", { host: "127.0.0.1", port: mqtt.mosquitto, topic, payload: "x" });
    try {
      const deadline = Date.now() + 15_000;
      while (!output.includes("sockkit gateway on")) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the gateway did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await redisAs("reader-secret", "GET", "cli:argument-secret-4d2f")).toEqual([200, undefined]);
      expect(await redisAs("reader-secret", "SET", "cli:rights", "v")).toEqual([403, "-@all"]);
      expect(await redisAs("ops-secret", "CONFIG", "GET", "maxmemory")).toEqual([200, undefined]);
      expect(await redisAs("ops-secret", "FLUSHALL")).toEqual([403, "-@dangerous"]);
      expect(await redisAs("wrong", "PING")).toEqual([401, undefined]);
      expect(await publishAs("reader-secret", "public/news")).toEqual([200, undefined]);
      expect(await publishAs("reader-secret", "ops/restart")).toEqual([403, "mqttPublish"]);
      expect(await publishAs("ops-secret", "ops/restart")).toEqual([200, undefined]);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      // stdout: one JSON line per request (eight above), and no token, Redis argument or payload in any of them.
      const lines = output.split("\n").filter((line) => line.startsWith("{"));
      expect(lines.map((line) => JSON.parse(line).msg)).toEqual(Array(8).fill("request"));
      expect(JSON.parse(lines[0]!)).toMatchObject({ route: "/redis", status: 200, caller: "reader", command: "GET" });
      for (const secret of ["reader-secret", "ops-secret", "argument-secret-4d2f", "cli:rights", '"x"'])
        expect(output, secret).not.toContain(secret);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad rule, filter or tokens file exits 2 before anything starts", async () => {
    expect(await sockkit("gateway", "--redis-commands", "+@all -@nosuch")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("names no Redis ACL category"),
    });
    expect(await sockkit("gateway", "--mqtt-publish", "a/#/b")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("# must be a whole level and the last one"),
    });
    expect(await sockkit("gateway", "--read-only", "--redis-commands", "+@all")).toMatchObject({ code: 2 });
    expect(await sockkit("gateway", "--tokens", "/nonexistent/tokens.json")).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--tokens /nonexistent/tokens.json"),
    });
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
      // The broker and redis-server are on the machine (the suite's prerequisites): all six lines.
      expect(curls).toHaveLength(6);
      const upstreamPorts = new Set<number>();
      for (const line of curls) {
        const [command, comment] = line.split("   # ");
        const { stdout } = await run("sh", ["-c", `${command} -w '\\n%{http_code}'`], { timeout: 10_000 });
        const status = Number(stdout.trim().split("\n").pop());
        expect(status, line).toBe(comment?.includes("403") ? 403 : 200);
        for (const match of command!.matchAll(/port[=":]+(\d+)/g)) upstreamPorts.add(Number(match[1]));
      }
      expect(upstreamPorts.size).toBe(2);
      // The demo's Redis answers the gateway's default command policy: no FLUSHALL, no CONFIG SET.
      const redisPort = Number(/"port":(\d+),"command"/.exec(output)![1]);
      for (const command of [["FLUSHALL"], ["flushall", "ASYNC"], ["CONFIG", "SET", "maxmemory", "1"]]) {
        const refused = await fetch(`http://127.0.0.1:${port}/redis`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ host: "127.0.0.1", port: redisPort, command }),
        });
        expect(refused.status, command.join(" ")).toBe(403);
        expect(await refused.json()).toMatchObject({ error: { code: "ECOMMAND_DENIED" } });
      }
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
