import { provideRedis, startRedisServer, startVictim, type RedisTarget } from "./redis.js";
import { startRedisFakes, type RedisFakes } from "./redis-fakes.js";
import { provideServices, type Running } from "./services.js";

export interface RedisTestEnv {
  /** The shared server: REDIS_URL, a container, or a redis-server started here. Tests use their own key prefix. */
  shared: RedisTarget;
  /** A redis-server started here with `requirepass`. */
  auth: RedisTarget & { password: string };
  /** Misbehaving fake servers, each a port on 127.0.0.1. */
  fakes: RedisFakes;
  /** A redis-server tests may kill and restart, and its control port ("kill", "start", "restart"). */
  victim: RedisTarget & { control: number };
}

declare module "vitest" {
  export interface ProvidedContext {
    redis: RedisTestEnv;
  }
}

const PASSWORD = "s3cret-for-tests";

/** Starts (or finds) the Redis servers in Node. */
export async function startRedisServices(): Promise<Running<RedisTestEnv>> {
  const shared = await provideRedis();
  const auth = await startRedisServer(["--requirepass", PASSWORD]);
  const fakes = await startRedisFakes();
  const victim = await startVictim();
  console.log(`[redis] shared server from ${shared.target.source} at ${shared.target.hostname}:${shared.target.port}`);
  return {
    env: {
      shared: shared.target,
      auth: { ...auth.target, password: PASSWORD },
      fakes: fakes.ports,
      victim: { ...victim.target, control: victim.control },
    },
    async close() {
      await Promise.all([shared.stop(), auth.stop(), fakes.close(), victim.stop()]);
    },
  };
}

/** Hands the Redis servers' addresses to the tests. */
export default provideServices("redis", startRedisServices);
