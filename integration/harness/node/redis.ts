// Finds a Redis server for the suites, in this order: REDIS_URL (a server the
// user provides: non-destructive tests only), a container through
// testcontainers when a container runtime answers, or a `redis-server`
// binary started here on a free port. None → fail, saying how to get one.
import { spawnSync, type ChildProcess } from "node:child_process";
import { serveControl } from "./control-server.js";
import { freePort, spawnListening } from "./processes.js";

export interface RedisTarget {
  hostname: string;
  port: number;
  /** Where it came from, for the test log. */
  source: "REDIS_URL" | "testcontainers" | "redis-server";
  /** Present when REDIS_URL gave a password. */
  password?: string;
}

export interface RedisServer {
  target: RedisTarget;
  /** Stops it (a server the harness started) or does nothing (REDIS_URL). */
  stop(): Promise<void>;
}

const HOW_TO =
  "The Redis suites need a Redis server. Provide one of: REDIS_URL=redis://host:port (a server the tests may write " +
  "keys to; they never flush it), a Docker-compatible container runtime (testcontainers starts redis:7), or the " +
  "redis-server binary on PATH (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis).";

/** The server for the shared, non-destructive suites. */
export async function provideRedis(): Promise<RedisServer> {
  const url = process.env.REDIS_URL;
  if (url) {
    const parsed = new URL(url);
    return {
      target: {
        hostname: parsed.hostname.replace(/^\[|\]$/g, ""),
        port: Number(parsed.port || 6379),
        source: "REDIS_URL",
        ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      },
      stop: async () => {},
    };
  }
  return (await startWithTestcontainers()) ?? startRedisServer();
}

async function startWithTestcontainers(): Promise<RedisServer | undefined> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import("testcontainers");
  try {
    await getContainerRuntimeClient(); // fails fast (well under a second) where no runtime answers
  } catch {
    return undefined;
  }
  const container = await new GenericContainer("redis:7-alpine")
    .withCommand(["redis-server", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage("Ready to accept connections"))
    .start();
  return {
    target: { hostname: container.getHost(), port: container.getMappedPort(6379), source: "testcontainers" },
    stop: async () => {
      await container.stop();
    },
  };
}

function hasRedisBinary(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Starts `redis-server` on a free loopback port, with nothing persisted. Used
 * for the shared server when no REDIS_URL or container runtime is there, and
 * always for destructive tests and special configurations (a password).
 */
export async function startRedisServer(
  extraArgs: string[] = [],
  fixedPort?: number,
): Promise<RedisServer & { process: ChildProcess }> {
  if (!hasRedisBinary()) throw new Error(HOW_TO);
  const port = fixedPort ?? (await freePort());
  const server = await spawnListening(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--enable-debug-command",
      "yes",
      "--loglevel",
      "warning",
      ...extraArgs,
    ],
    port,
  );
  return {
    process: server.process,
    target: { hostname: "127.0.0.1", port, source: "redis-server" },
    stop: () => server.stop(),
  };
}

/**
 * A redis-server the tests may kill and restart (always one the harness
 * started, never REDIS_URL's), driven through a one-line control port so
 * that workerd tests can drive it too: "kill", "start" or "restart", each
 * answered with "ok" once done.
 */
export async function startVictim(): Promise<{ target: RedisTarget; control: number; stop(): Promise<void> }> {
  let server = await startRedisServer();
  const { port } = server.target;
  let running = true;
  const kill = async () => {
    if (running) await server.stop();
    running = false;
  };
  const start = async () => {
    if (!running) server = await startRedisServer([], port);
    running = true;
  };
  const control = await serveControl(async (command) => {
    if (command === "kill") await kill();
    else if (command === "start") await start();
    else if (command === "restart") {
      await kill();
      await start();
    } else throw new Error(`unknown command ${command}`);
  });
  return {
    target: server.target,
    control: control.port,
    async stop() {
      await control.close();
      await kill();
    },
  };
}
