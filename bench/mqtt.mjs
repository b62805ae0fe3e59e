// `npm run bench` (MQTT part): @sockkit/core/mqtt over @sockkit/adapter-node
// against MQTT.js on one Mosquitto started here, alternated, median of RUNS;
// and our codec against mqtt-packet on the same packets. Targets (issue #6):
// >= 1.0x MQTT.js on every row (the round trips' warm-up row is shown, not a
// target), ahead of mqtt-packet; the bursts at the defaults (issue #18) >= 1.2x.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import mqttPacket from "mqtt-packet";
import { createConnect } from "@sockkit/adapter-node";
import { MqttDecoder, createMqttClient, encodePacket } from "@sockkit/core/mqtt";
import { freePort, spawnServer } from "./servers.mjs";
import { alternate, collectGarbage, machine, median } from "./stats.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const QOS0 = 50_000;
const QOS1 = 10_000;
// Bursts at both clients' defaults (issue #18): what a user's Promise.all over publish() gets.
const BURST = 20_000;
// BENCH_MQTT_WINDOWS=100,300,500: only the burst rows, once at the defaults and once per window
// given as our maxInFlight and maxInFlightQoS2 (MQTT.js at its defaults each time): how the
// defaults were chosen.
const WINDOWS = (process.env.BENCH_MQTT_WINDOWS ?? "").split(",").filter(Boolean).map(Number);
for (const w of WINDOWS)
  if (!Number.isInteger(w) || w < 1 || w > 65535) throw new Error(`BENCH_MQTT_WINDOWS: ${w} is not a window (1-65535)`);
// Round trips: the first LATENCY of a row are timed on their own and reported (they are mostly
// JIT warm-up, for both clients: a focused loop took about 3,000 round trips to reach steady
// speed), then STEADY more give the row that measures latency, the target.
const LATENCY = 2_000;
const STEADY = 8_000;

collectGarbage(); // without --expose-gc, fail here, before any server starts
const port = await freePort();
const dir = mkdtempSync(join(os.tmpdir(), "sockkit-bench-mosquitto-"));
writeFileSync(
  join(dir, "m.conf"),
  [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "max_inflight_messages 0",
    "max_queued_messages 0",
    ...(process.getuid?.() === 0 ? ["user root"] : []),
  ].join("\n") + "\n",
);
const broker = await spawnServer("mosquitto", ["-c", join(dir, "m.conf")], port);

const payload = new Uint8Array(64).fill(120);
const contenders = {
  async sockkit(defaults = false, maxInFlight = 1000, maxInFlightQoS2 = undefined) {
    const client = createMqttClient({
      connect: createConnect(),
      address: { hostname: "127.0.0.1", port },
      ...(defaults ? {} : { maxInFlight }),
      ...(maxInFlightQoS2 ? { maxInFlightQoS2 } : {}),
    });
    await client.connect();
    return {
      publish: (topic, qos) => client.publish(topic, payload, { qos }),
      subscribe: (topic) => client.subscribe(topic, { qos: 0 }),
      onMessage: (fn) => client.onMessage(fn),
      close: () => client.end(),
      fresh: (window) => (window ? contenders.sockkit(false, window, window) : contenders.sockkit(true)),
    };
  },
  async "MQTT.js"() {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const listeners = new Set();
    client.on("message", () => listeners.forEach((fn) => fn()));
    return {
      publish: (topic, qos) => client.publishAsync(topic, Buffer.from(payload), { qos }),
      subscribe: (topic) => client.subscribeAsync(topic, { qos: 0 }),
      onMessage: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
      close: () => client.endAsync(),
      fresh: () => contenders["MQTT.js"](),
    };
  },
};

const COLD_ROW = `publish→receive round trips, the row's first ×${LATENCY}, JIT warm-up included (per s; shown, not a target)`;
const STEADY_ROW = `publish→receive round trips ×${STEADY} after those (per s)`;
const burstRows = [undefined, ...WINDOWS].flatMap((window) =>
  [1, 2].map((qos) => async (c) => {
    // A client of its own at the defaults (MQTT.js's are the defaults already), connected off the clock.
    const fresh = await c.fresh(window);
    const how = window ? `our window ${window} for QoS 1 and 2, MQTT.js at its defaults` : "at both clients' defaults";
    try {
      await fresh.publish("bench/barrier", 1);
      return {
        [`QoS ${qos} burst ×${BURST} ${how} (msgs/s)`]: await time(BURST, () =>
          Promise.all(Array.from({ length: BURST }, () => fresh.publish(`bench/burst${qos}`, qos))),
        ),
      };
    } finally {
      await fresh.close();
    }
  }),
);
// Each row returns its measurements by row name (the round-trip row reports two).
const allRows = [
  async (c) => ({
    [`QoS 0 publish ×${QOS0} (msgs/s)`]: await time(QOS0, () =>
      Promise.all(Array.from({ length: QOS0 }, () => c.publish("bench/q0", 0))),
    ),
  }),
  async (c) => ({
    [`QoS 1 publish ×${QOS1} (msgs/s)`]: await time(QOS1, () =>
      Promise.all(Array.from({ length: QOS1 }, () => c.publish("bench/q1", 1))),
    ),
  }),
  ...burstRows,
  async (c) => {
    const topic = `bench/rt/${Math.random()}`;
    await c.subscribe(topic);
    const roundTrips = async (count) => {
      for (let i = 0; i < count; i++) {
        const got = new Promise((resolve) => {
          const stop = c.onMessage(() => (stop(), resolve()));
        });
        await c.publish(topic, 0);
        await got;
      }
    };
    const cold = await time(LATENCY, () => roundTrips(LATENCY));
    return { [COLD_ROW]: cold, [STEADY_ROW]: await time(STEADY, () => roundTrips(STEADY)) };
  },
];
const rows = WINDOWS.length > 0 ? burstRows : allRows;

// Also the client's own CPU time per operation: the broker is another process, so this is
// what each client costs, less disturbed by how the processes share the cores. Each row
// starts from a collected heap and pays for collecting its own garbage (collectGarbage).
async function time(operations, fn) {
  collectGarbage();
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  collectGarbage();
  const rate = operations / (Number(process.hrtime.bigint() - t0) / 1e9);
  const used = process.cpuUsage(cpu);
  return { rate, cpu: (used.user + used.system) / operations };
}

const results = {};
const names = Object.keys(contenders);
for (let run = -1; run < RUNS; run++) {
  const order = names.map((_, i) => names[(i + Math.max(run, 0)) % names.length]);
  for (const name of order) {
    const client = await contenders[name]();
    try {
      for (const fn of rows) {
        // A barrier, off the clock: the broker has handled everything the previous row sent
        // (a fast QoS 0 row would otherwise leave its backlog in front of the next row's acks).
        await client.publish("bench/barrier", 1);
        for (const [row, measured] of Object.entries(await fn(client))) {
          if (run >= 0) ((results[row] ??= {})[name] ??= []).push(measured);
        }
      }
    } finally {
      await client.close();
    }
  }
}
broker.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });

// ---- codec: encode + decode the same PUBLISH packets --------------------------
const packets = Array.from({ length: 20_000 }, (_, i) => ({
  topic: `sensors/${i % 100}/temp`,
  payload: new Uint8Array(32 + (i % 64)).fill(i % 256),
  qos: i % 3,
  packetId: (i % 65535) + 1,
}));
const codecs = {
  sockkit() {
    const parts = packets.map((p) =>
      encodePacket(
        {
          type: "publish",
          topic: p.topic,
          payload: p.payload,
          qos: p.qos,
          retain: false,
          dup: false,
          ...(p.qos ? { packetId: p.packetId } : {}),
        },
        4,
      ),
    );
    let n = 0;
    const d = new MqttDecoder({ version: 4, onPacket: () => n++ });
    for (const part of parts) d.feed(part);
    return n;
  },
  "mqtt-packet"() {
    const parts = packets.map((p) =>
      mqttPacket.generate({
        cmd: "publish",
        topic: p.topic,
        payload: Buffer.from(p.payload.buffer, p.payload.byteOffset, p.payload.length),
        qos: p.qos,
        retain: false,
        dup: false,
        messageId: p.qos ? p.packetId : undefined,
      }),
    );
    let n = 0;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", () => n++);
    for (const part of parts) parser.parse(part);
    return n;
  },
};
const codecResults = alternate(codecs, RUNS * 3, (name, fn) => {
  const t0 = process.hrtime.bigint();
  if (fn() !== packets.length) throw new Error(`${name} lost packets`);
  return packets.length / (Number(process.hrtime.bigint() - t0) / 1e9);
});

console.log(`\nMQTT, ${machine()}, Mosquitto, median of ${RUNS} alternated runs\n`);
console.log("| row | sockkit | MQTT.js | sockkit ÷ MQTT.js | client CPU µs per op, sockkit / MQTT.js |");
console.log("|---|---:|---:|---:|---:|");
for (const [row, byName] of Object.entries(results)) {
  const [a, b] = [byName.sockkit, byName["MQTT.js"]].map((xs) => median(xs.map((x) => x.rate)));
  const [ca, cb] = [byName.sockkit, byName["MQTT.js"]].map((xs) => median(xs.map((x) => x.cpu)));
  console.log(
    `| ${row} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(2)} | ${ca.toFixed(1)} / ${cb.toFixed(1)} |`,
  );
}
const cs = median(codecResults.sockkit);
const cp = median(codecResults["mqtt-packet"]);
console.log(
  `\nCodec, 20,000 PUBLISH packets encoded then decoded: sockkit ${cs.toFixed(0)}/s, mqtt-packet ${cp.toFixed(0)}/s, ratio ${(cs / cp).toFixed(2)}`,
);
