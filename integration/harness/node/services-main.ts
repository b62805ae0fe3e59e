// The test services as one Node process, started once by `npm test` (scripts/test.mjs) for every
// Vitest run of the command (Node 20 and 24, Bun, Deno, workerd). It writes their addresses to the file
// argv[2] names once they all listen (the runs find it through SOCKKIT_SERVICES), and stops them on
// SIGTERM/SIGINT or when its stdin closes (the test command is gone).
import { renameSync, writeFileSync } from "node:fs";
import { startSocketServices } from "./global-setup.js";
import { startMqttServices } from "./mqtt-setup.js";
import { startRedisClusterServices } from "./redis-cluster-setup.js";
import { startRedisServices } from "./redis-setup.js";
import type { Running } from "./services.js";

const out = process.argv[2];
if (!out) throw new Error("usage: services-main <file to write the services' addresses to>");

const running: Running<unknown>[] = [];
let stopping: Promise<void> | undefined;
const stop = (code: number) =>
  (stopping ??= Promise.race([
    Promise.allSettled(running.map((services) => services.close())),
    // A server still waiting for a connection to end must not keep the test command waiting.
    new Promise((resolve) => setTimeout(resolve, 5000).unref()).then(() =>
      console.error("test services: not all stopped within 5 s; exiting anyway"),
    ),
  ]).then(() => process.exit(code)));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void stop(0));
process.stdin.on("end", () => void stop(0)).resume();

try {
  const sockets = await startSocketServices();
  running.push(sockets);
  const redis = await startRedisServices();
  running.push(redis);
  const mqtt = await startMqttServices();
  running.push(mqtt);
  const redisCluster = await startRedisClusterServices();
  running.push(redisCluster);
  // Written whole, then renamed: the test command starts its runs once the file exists.
  writeFileSync(
    `${out}.tmp`,
    JSON.stringify({ sockets: sockets.env, redis: redis.env, mqtt: mqtt.env, redisCluster: redisCluster.env }),
  );
  renameSync(`${out}.tmp`, out);
} catch (error) {
  console.error(error);
  void stop(1);
}
