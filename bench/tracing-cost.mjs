// What the tracing channels cost when nobody subscribes: the Redis and MQTT rows of the benches, run
// once in this process, meant to be counted by callgrind (instructions are repeatable here, wall time
// is not). `npm run bench:tracing` runs it under valgrind for the built packages of two checkouts
// (before and after a change) and prints the totals; see bench/RESULTS.md.
//
//   node bench/tracing-cost.mjs <packages folder> <redis port> <mosquitto port>
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [packages, redisPort, mqttPort] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(join(packages, path)).href);
const { createConnect } = await load("adapter-node/dist/index.js");
const { createRedisClient } = await load("core/dist/redis/index.js");
const { createMqttClient } = await load("core/dist/mqtt/index.js");

const COMMANDS = Number(process.env.TRACING_COST_COMMANDS ?? 20_000);
const MESSAGES = Number(process.env.TRACING_COST_MESSAGES ?? 20_000);
const connect = createConnect();

const rows = (process.env.TRACING_COST_ROWS ?? "redis,mqtt").split(",");

// Redis: GETs all at once (auto-pipelined), in rounds, as the Redis bench's concurrent row.
if (rows.includes("redis")) {
  const redis = createRedisClient({ connect, address: `127.0.0.1:${redisPort}` });
  await redis.set("sockkit:tracing-cost", "x".repeat(64));
  for (let done = 0; done < COMMANDS; done += 1000)
    await Promise.all(Array.from({ length: 1000 }, () => redis.get("sockkit:tracing-cost")));
  await redis.close();
}

// MQTT: QoS 0 and QoS 1 publishes all at once, as the MQTT bench's burst rows.
if (rows.includes("mqtt")) {
  const mqtt = createMqttClient({ connect, address: `127.0.0.1:${mqttPort}` });
  const payload = new Uint8Array(64).fill(120);
  await mqtt.connect();
  await Promise.all(Array.from({ length: MESSAGES }, () => mqtt.publish("bench/tracing/0", payload, { qos: 0 })));
  await Promise.all(Array.from({ length: MESSAGES }, () => mqtt.publish("bench/tracing/1", payload, { qos: 1 })));
  await mqtt.end();
}
