#!/usr/bin/env node
// `sockkit`: the gateway on Node, and one-shot probes and commands.
// Exit codes: 0 done, 1 the operation failed (upstream, policy, timeout), 2 bad usage.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { parseArgs } from "node:util";
import { createConnect } from "@sockkit/adapter-node";
import { isSockkitError } from "@sockkit/core";
import { createMqttClient, type QoS } from "@sockkit/core/mqtt";
import { createRedisClient } from "@sockkit/core/redis";
import {
  createGateway,
  probe as probeTarget,
  replyToJson,
  type AccessPolicy,
  type AllowEntry,
  type ProbeKind,
  type TokenGrant,
} from "@sockkit/gateway";
import { serveGateway } from "./serve.js";
import { HELP, isCommandName, usageOf, type CommandName } from "./usage.js";

/** Bad usage: exit 2 with the reason and where to read the command's usage. */
class UsageError extends Error {}

/** The command being run, so that a usage error points at its own help. */
let running: CommandName | undefined;

/** The options every command takes besides its own. */
const HELP_OPTION = { help: { type: "boolean", short: "h", default: false } } as const;

function printUsage(command: CommandName): number {
  process.stdout.write(usageOf(command));
  return 0;
}

function version(): string {
  // dist/bin.js and src/bin.ts both sit one folder below the package's root.
  return (createRequire(import.meta.url)("../package.json") as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(HELP);
    return 2;
  }
  if (command === "--help" || command === "-h") {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === "--version" || command === "-v") {
    console.log(version());
    return 0;
  }
  if (command === "help") {
    const topic = rest.join(" ");
    if (topic === "") {
      process.stdout.write(HELP);
      return 0;
    }
    if (!isCommandName(topic)) throw new UsageError(`no help for "${topic}": unknown command`);
    return printUsage(topic);
  }
  if (isCommandName(command)) running = command;
  switch (command) {
    case "gateway":
      return gateway(rest);
    case "probe":
      return probe(rest);
    case "redis":
      return redis(rest);
    case "mqtt":
      return mqtt(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function gateway(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8787" },
      host: { type: "string", default: "127.0.0.1" },
      allow: { type: "string", multiple: true, default: [] },
      token: { type: "string" },
      tokens: { type: "string" },
      "redis-commands": { type: "string" },
      "read-only": { type: "boolean", default: false },
      "mqtt-publish": { type: "string", multiple: true },
      "mqtt-subscribe": { type: "string", multiple: true },
      quiet: { type: "boolean", default: false },
      demo: { type: "boolean", default: false },
      ...HELP_OPTION,
    },
    strict: true,
  });
  if (values.help) return printUsage("gateway");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number, got "${values.port}"`);
  const allow: AllowEntry[] = values.allow.map(parseAllow);
  if (values["read-only"] && values["redis-commands"] !== undefined)
    throw new UsageError("--read-only and --redis-commands both set the command rules: give one");
  const access: AccessPolicy = {
    ...(values["read-only"] ? { redisCommands: "read-only" } : {}),
    ...(values["redis-commands"] !== undefined ? { redisCommands: values["redis-commands"] } : {}),
    ...(values["mqtt-publish"] ? { mqttPublish: values["mqtt-publish"] } : {}),
    ...(values["mqtt-subscribe"] ? { mqttSubscribe: values["mqtt-subscribe"] } : {}),
  };
  const tokens = values.tokens === undefined ? undefined : readTokens(values.tokens);
  // Checked before anything starts: a bad rule, filter or token is a usage error, not a half-started demo.
  try {
    createGateway({
      connect: () => {
        throw new Error("never called");
      },
      access,
      ...(values.token ? { token: values.token } : {}),
      ...(tokens ? { tokens } : {}),
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const stops: Array<() => Promise<void>> = [];
  let brokerPort: number | undefined;
  let redisPort: number | undefined;
  if (values.demo) {
    const broker = await startAedes();
    stops.push(broker.close);
    brokerPort = broker.port;
    allow.push({ host: "127.0.0.1", ports: broker.port, protocol: "mqtt", name: "demo MQTT broker (Aedes)" });
    const redisServer = await startRedisServer();
    if (redisServer) {
      stops.push(redisServer.close);
      redisPort = redisServer.port;
      allow.push({ host: "127.0.0.1", ports: redisServer.port, protocol: "redis", name: "demo Redis" });
    }
  }
  const running = await serveGateway({
    port,
    hostname: values.host,
    allow,
    access,
    ...(values.quiet ? { log: false as const } : {}),
    ...(values.token ? { token: values.token } : {}),
    ...(tokens ? { tokens } : {}),
  });
  stops.unshift(running.close);
  // A token from --tokens stays in its file: the lines show where it goes.
  const auth = values.token
    ? ` -H 'authorization: Bearer ${values.token}'`
    : tokens
      ? ` -H "authorization: Bearer $TOKEN"`
      : "";
  console.log(`sockkit gateway on ${running.url} (open it in a browser for the probe page)`);
  if (values.demo) {
    console.log(`\nTry:`);
    console.log(`  curl -s${auth} '${running.url}/probe/mqtt?host=127.0.0.1&port=${brokerPort}'`);
    console.log(
      `  curl -s${auth} -H 'content-type: application/json' -d '{"host":"127.0.0.1","port":${brokerPort},"topic":"demo","payload":"hello","qos":1}' ${running.url}/mqtt/publish`,
    );
    if (redisPort !== undefined) {
      console.log(`  curl -s${auth} '${running.url}/probe/redis?host=127.0.0.1&port=${redisPort}'`);
      console.log(
        `  curl -s${auth} -H 'content-type: application/json' -d '{"host":"127.0.0.1","port":${redisPort},"command":["INCR","demo:hits"]}' ${running.url}/redis`,
      );
      console.log(
        `  curl -s${auth} -H 'content-type: application/json' -d '{"host":"127.0.0.1","port":${redisPort},"command":["FLUSHALL"]}' ${running.url}/redis   # refused by the command policy: 403`,
      );
    } else {
      console.log(`  (redis-server is not installed, so the Redis examples are left out)`);
    }
    console.log(`  curl -s${auth} '${running.url}/probe/redis?host=169.254.169.254'   # refused: 403`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  console.log("\nshutting down…");
  for (const close of stops) await close().catch(() => {});
  return 0;
}

async function probe(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { timeout: { type: "string", default: "5000" }, ...HELP_OPTION },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return printUsage("probe");
  const [raw] = positionals;
  if (!raw) throw new UsageError("probe needs a URL, e.g. sockkit probe redis://127.0.0.1:6379");
  const timeoutMs = Number(values.timeout);
  if (!(timeoutMs > 0))
    throw new UsageError(`--timeout must be a positive number of milliseconds, got "${values.timeout}"`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`"${raw}" is not a URL (expected redis://, mqtt:// or tcp://host:port)`);
  }
  const kind = SCHEMES[url.protocol];
  if (kind === undefined)
    throw new UsageError(`unsupported scheme "${url.protocol}" (use redis://, rediss://, mqtt://, mqtts:// or tcp://)`);
  if (kind === "tcp" && url.port === "") throw new UsageError("a tcp:// URL needs a port");
  const decode = (s: string) => (s === "" ? undefined : decodeURIComponent(s));
  const username = decode(url.username);
  const password = decode(url.password);
  const result = await probeTarget(
    kind,
    createConnect(),
    {
      hostname: url.hostname,
      port: url.port === "" ? DEFAULT_PORTS[url.protocol]! : Number(url.port),
      tls: url.protocol === "rediss:" || url.protocol === "mqtts:",
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    },
    { connectTimeoutMs: timeoutMs, operationTimeoutMs: timeoutMs },
  );
  const { latencyMs, detail } = result;
  if (kind === "redis") console.log(`ok ${String(detail.reply)} in ${latencyMs} ms (RESP${String(detail.protocol)})`);
  else if (kind === "mqtt") console.log(`ok CONNACK in ${latencyMs} ms`);
  else console.log(`ok connected in ${latencyMs} ms`);
  return 0;
}

const SCHEMES: Record<string, ProbeKind> = {
  "redis:": "redis",
  "rediss:": "redis",
  "mqtt:": "mqtt",
  "mqtts:": "mqtt",
  "tcp:": "tcp",
};
const DEFAULT_PORTS: Record<string, number> = { "redis:": 6379, "rediss:": 6379, "mqtt:": 1883, "mqtts:": 8883 };

async function redis(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { url: { type: "string", default: "redis://127.0.0.1:6379" }, ...HELP_OPTION },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return printUsage("redis");
  if (positionals.length === 0)
    throw new UsageError("redis needs a command, e.g. sockkit redis --url redis://127.0.0.1:6379 PING");
  const client = createRedisClient({ connect: createConnect(), url: values.url });
  try {
    const reply = await client.send(...positionals);
    console.log(typeof reply === "string" ? reply : JSON.stringify(replyToJson(reply)));
  } finally {
    await client.close();
  }
  return 0;
}

async function mqtt(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h") return printUsage("mqtt");
  running = "mqtt";
  if (sub !== "pub" && sub !== "sub")
    throw new UsageError(
      sub === undefined ? "mqtt needs pub or sub" : `unknown mqtt command "${sub}" (use pub or sub)`,
    );
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      url: { type: "string", default: "mqtt://127.0.0.1:1883" },
      qos: { type: "string", default: "0" },
      retain: { type: "boolean", default: false },
      count: { type: "string" },
      ...HELP_OPTION,
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return printUsage(`mqtt ${sub}`);
  running = `mqtt ${sub}`;
  const qos = Number(values.qos);
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new UsageError(`--qos must be 0, 1 or 2, got "${values.qos}"`);
  // Checked before connecting, so bad usage never costs a connection.
  if (sub === "pub") {
    const [topic, message, extra] = positionals;
    if (topic === undefined || message === undefined || extra !== undefined)
      throw new UsageError("mqtt pub needs a topic and a message");
    if (values.count !== undefined) throw new UsageError("--count is for mqtt sub");
    const client = createMqttClient({ connect: createConnect(), url: values.url });
    try {
      await client.publish(topic, message, { qos: qos as QoS, retain: values.retain });
      console.log(`published to ${topic} (QoS ${qos})`);
      return 0;
    } finally {
      await client.end({ timeoutMs: 2000 });
    }
  }
  const [filter, extra] = positionals;
  if (filter === undefined || extra !== undefined) throw new UsageError("mqtt sub needs one topic filter");
  if (values.retain) throw new UsageError("--retain is for mqtt pub");
  const count = values.count === undefined ? Infinity : Number(values.count);
  if (!(count > 0)) throw new UsageError(`--count must be a positive number, got "${values.count}"`);
  const client = createMqttClient({ connect: createConnect(), url: values.url });
  try {
    const messages = client.messages();
    const [granted] = await client.subscribe(filter, { qos: qos as QoS });
    if (granted === undefined || granted >= 0x80) {
      console.error(
        `sockkit: the broker refused the subscription to ${filter} (reason 0x${(granted ?? 0x80).toString(16)})`,
      );
      return 1;
    }
    let seen = 0;
    const stop = () => void messages.return?.();
    process.once("SIGINT", stop);
    try {
      for await (const message of messages) {
        console.log(`${message.topic} ${message.text}`);
        if (++seen >= count) break;
      }
    } finally {
      process.off("SIGINT", stop);
    }
    return 0;
  } finally {
    await client.end({ timeoutMs: 2000 });
  }
}

/** The --tokens file: a JSON array of { token, name?, redisCommands?, mqttPublish?, mqttSubscribe? }. */
function readTokens(path: string): TokenGrant[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`--tokens ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`--tokens ${path} is not JSON`);
  }
  if (!Array.isArray(parsed) || parsed.some((entry) => typeof entry !== "object" || entry === null))
    throw new UsageError(`--tokens ${path} must hold a JSON array of objects ({ "token": "...", "name": "..." })`);
  return parsed as TokenGrant[];
}

function parseAllow(text: string): AllowEntry {
  const match = /^(?:(redis|mqtt|tcp):\/\/)?(\[[^\]]+\]|[^:]+):([\d,-]+)$/.exec(text);
  if (!match)
    throw new UsageError(
      `--allow "${text}" is not [PROTOCOL://]HOST:PORTS (e.g. 127.0.0.1:6379, redis://10.0.0.5:6379 or [::1]:1883,8883)`,
    );
  const host = match[2]!.replace(/^\[|\]$/g, "");
  const protocol = match[1] as AllowEntry["protocol"];
  return { host, ports: match[3]!.split(","), ...(protocol ? { protocol } : {}) };
}

async function startAedes(): Promise<{ port: number; close(): Promise<void> }> {
  const { Aedes } = (await import("aedes")) as unknown as {
    Aedes: { createBroker(): Promise<{ handle(socket: net.Socket): void; close(cb: () => void): void }> };
  };
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

async function startRedisServer(): Promise<{ port: number; close(): Promise<void> } | undefined> {
  if (spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status !== 0) return undefined;
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    close: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
    },
  };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // node:util parseArgs' errors: unknown option, missing value, unexpected positional.
    if (error instanceof UsageError || String((error as { code?: unknown })?.code).startsWith("ERR_PARSE_ARGS_")) {
      console.error(
        `sockkit: ${(error as Error).message}\n\nRun sockkit ${running ? `${running} ` : ""}--help for usage.`,
      );
      process.exit(2);
    }
    if (error instanceof TypeError) {
      console.error(`sockkit: ${error.message}`);
      process.exit(2);
    }
    console.error(
      `sockkit: ${isSockkitError(error) ? `${error.code}: ` : ""}${(error as Error)?.message ?? String(error)}`,
    );
    process.exit(1);
  },
);
