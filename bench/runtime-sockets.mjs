// Runs inside Bun or Deno (started by bench/runtimes.mjs): @sockkit/adapter-node and the runtime's
// native adapter (argv[3]: @sockkit/adapter-bun or -deno) against the runtime's own sockets (argv[2]:
// raw-bun.mjs or raw-deno.mjs) and its node:net, in one process, alternated, the order rotated every
// run. Prints one JSON line of samples.
import net from "node:net";
import { connect as sockkitConnect } from "@sockkit/adapter-node";

const [rawModule, nativeAdapter, downloadPort, echoPort] = process.argv.slice(2);
const raw = await import(new URL(rawModule, import.meta.url).href);
const { connect: nativeConnect } = await import(nativeAdapter);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const DOWNLOAD_BYTES = Number(process.env.BENCH_DOWNLOAD_BYTES ?? 256 * 1024 * 1024);
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 20_000);
const PING = new Uint8Array(16).fill(0x70);
const ports = { download: Number(downloadPort), echo: Number(echoPort) };

function nodeNetDownload() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let n = 0;
    const socket = net.connect({ host: "127.0.0.1", port: ports.download, noDelay: true });
    socket.on("data", (chunk) => {
      n += chunk.length;
      if (n >= DOWNLOAD_BYTES) {
        const seconds = (performance.now() - t0) / 1000;
        socket.destroy();
        resolve({ amount: n, seconds });
      }
    });
    socket.on("error", reject);
  });
}

function nodeNetPingPong() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: ports.echo, noDelay: true });
    let left = ROUND_TRIPS;
    let got = 0;
    socket.on("connect", () => socket.write(PING));
    socket.on("data", (chunk) => {
      got += chunk.length;
      if (got < PING.length) return;
      got -= PING.length;
      if (--left === 0) {
        socket.destroy();
        resolve(ROUND_TRIPS);
      } else socket.write(PING);
    });
    socket.on("error", reject);
  });
}

async function streamDownload(connect) {
  const t0 = performance.now();
  const socket = connect({ hostname: "127.0.0.1", port: ports.download });
  const reader = socket.readable.getReader();
  let n = 0;
  while (n < DOWNLOAD_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
  }
  const seconds = (performance.now() - t0) / 1000;
  reader.releaseLock();
  await socket.close().catch(() => {});
  return { amount: n, seconds };
}

async function streamPingPong(connect) {
  const socket = connect({ hostname: "127.0.0.1", port: ports.echo });
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    await writer.write(PING);
    let got = 0;
    while (got < PING.length) {
      const { done, value } = await reader.read();
      if (done) throw new Error("echo server closed early");
      got += value.byteLength;
    }
  }
  reader.releaseLock();
  writer.releaseLock();
  await socket.close().catch(() => {});
  return ROUND_TRIPS;
}

const contenders = {
  [raw.name]: {
    download: () => raw.download(ports.download, DOWNLOAD_BYTES),
    pingpong: () => raw.pingPong(ports.echo, ROUND_TRIPS, PING),
  },
  "@sockkit/adapter-node": {
    download: () => streamDownload(sockkitConnect),
    pingpong: () => streamPingPong(sockkitConnect),
  },
  [nativeAdapter]: { download: () => streamDownload(nativeConnect), pingpong: () => streamPingPong(nativeConnect) },
  "node:net (the runtime's)": { download: nodeNetDownload, pingpong: nodeNetPingPong },
};
// Informational references a raw module may add (shown, not a threshold).
for (const [name, { download, pingPong }] of Object.entries(raw.extra ?? {})) {
  contenders[name] = {
    download: () => download(ports.download, DOWNLOAD_BYTES),
    pingpong: () => pingPong(ports.echo, ROUND_TRIPS, PING),
  };
}
const names = Object.keys(contenders);
const samples = Object.fromEntries(names.map((name) => [name, { download: [], pingpong: [], cpu: [] }]));

// Each row starts from a collected heap and pays, on the clock, for collecting its own garbage.
async function timed(fn) {
  raw.collectGarbage();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  raw.collectGarbage();
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  return { result, seconds, cpuMicros: used.user + used.system };
}

for (const name of names) {
  await contenders[name].download();
  await contenders[name].pingpong();
}
for (let run = 0; run < RUNS; run++) {
  const order = names.map((_, i) => names[(i + run) % names.length]);
  for (const name of order) {
    raw.collectGarbage();
    const d = await contenders[name].download();
    const gc0 = performance.now();
    raw.collectGarbage();
    d.seconds += (performance.now() - gc0) / 1000;
    if (d.amount < DOWNLOAD_BYTES) throw new Error(`${name} downloaded ${d.amount} bytes, expected ${DOWNLOAD_BYTES}`);
    samples[name].download.push(DOWNLOAD_BYTES / d.seconds / (1024 * 1024));
    const p = await timed(contenders[name].pingpong);
    samples[name].pingpong.push(p.result / p.seconds);
    samples[name].cpu.push(p.cpuMicros / p.result);
  }
  process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
}
console.log(
  JSON.stringify({ raw: raw.name, runs: RUNS, downloadBytes: DOWNLOAD_BYTES, roundTrips: ROUND_TRIPS, samples }),
);
