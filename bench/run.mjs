// `npm run bench`: @sockkit/adapter-node against raw node:net and
// @arrowood.dev/socket, alternated in one run, median of RUNS each.
// Targets (issue #2): >= 0.9x raw net on throughput, >= 0.8x on round trips,
// ahead of @arrowood.dev/socket on both.
import { spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";
import { connect as arrowoodConnect } from "@arrowood.dev/socket";
import { connect as sockkitConnect } from "@sockkit/adapter-node";
import { collectGarbage } from "./stats.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const DOWNLOAD_BYTES = 256 * 1024 * 1024;
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 20_000);
const PING = new Uint8Array(16).fill(0x70);

collectGarbage(); // without --expose-gc, fail here, before the peer starts
const server = spawn(process.execPath, [new URL("./server.mjs", import.meta.url).pathname, String(DOWNLOAD_BYTES)], {
  stdio: ["pipe", "pipe", "inherit"],
});
const ports = await new Promise((resolve, reject) => {
  server.stdout.once("data", (line) => resolve(JSON.parse(String(line))));
  server.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
});

// ---- raw node:net ---------------------------------------------------------
// Every contender stops at the byte count rather than at EOF: @arrowood.dev/socket
// never reports EOF (its Duplex.toWeb stream hangs after the peer's FIN).
// Download clocks stop at the last byte; closing happens after, off the clock.
function rawDownload() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let n = 0;
    const socket = net.connect({ host: "127.0.0.1", port: ports.download, noDelay: true });
    socket.on("data", (chunk) => {
      n += chunk.length;
      if (n >= DOWNLOAD_BYTES) {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        socket.destroy();
        resolve({ amount: n, seconds });
      }
    });
    socket.on("error", reject);
  });
}

function rawPingPong(count) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: ports.echo, noDelay: true });
    let left = count;
    let got = 0;
    socket.on("connect", () => socket.write(PING));
    socket.on("data", (chunk) => {
      got += chunk.length;
      if (got < PING.length) return;
      got -= PING.length;
      if (--left === 0) {
        socket.destroy();
        resolve(count);
      } else socket.write(PING);
    });
    socket.on("error", reject);
  });
}

// ---- web-stream sockets (sockkit and arrowood share the Workers shape) ----
async function streamDownload(connect) {
  const t0 = process.hrtime.bigint();
  const socket = connect({ hostname: "127.0.0.1", port: ports.download });
  const reader = socket.readable.getReader();
  let n = 0;
  while (n < DOWNLOAD_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  reader.releaseLock();
  await closeWithin(socket);
  return { amount: n, seconds };
}

async function streamPingPong(connect, count) {
  const socket = connect({ hostname: "127.0.0.1", port: ports.echo });
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  for (let i = 0; i < count; i++) {
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
  await closeWithin(socket);
  return count;
}

/** close(), but do not let a contender's slow close stall the benchmark. */
async function closeWithin(socket, ms = 2000) {
  let timer;
  await Promise.race([socket.close().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

const contenders = {
  "node:net (raw)": { download: rawDownload, pingpong: () => rawPingPong(ROUND_TRIPS) },
  "@sockkit/adapter-node": {
    download: () => streamDownload(sockkitConnect),
    pingpong: () => streamPingPong(sockkitConnect, ROUND_TRIPS),
  },
  "@arrowood.dev/socket": {
    download: () => streamDownload(arrowoodConnect),
    pingpong: () => streamPingPong(arrowoodConnect, ROUND_TRIPS),
  },
};

// Also the client's own CPU time: the peer runs in another process, so this is
// what each contender costs, less disturbed by how the two processes share the cores.
// The row starts from a collected heap (not paying for the download before it, whose
// garbage is a quarter GiB of chunks) and pays, on the clock, for collecting its own.
async function time(fn) {
  collectGarbage();
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const amount = await fn();
  collectGarbage();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu);
  return { amount, seconds, cpuMicros: used.user + used.system };
}

const samples = Object.fromEntries(
  Object.keys(contenders).map((name) => [name, { download: [], pingpong: [], cpu: [] }]),
);
const names = Object.keys(contenders);
// Warm-up, not recorded.
for (const name of names) {
  await contenders[name].download();
  await contenders[name].pingpong();
}
for (let run = 0; run < RUNS; run++) {
  // Rotate the order every run so no contender always goes first.
  const order = names.map((_, i) => names[(i + run) % names.length]);
  for (const name of order) {
    // Each download starts from a collected heap too, and pays for collecting its own chunks.
    collectGarbage();
    const d = await contenders[name].download();
    const gc0 = process.hrtime.bigint();
    collectGarbage();
    d.seconds += Number(process.hrtime.bigint() - gc0) / 1e9;
    if (d.amount !== DOWNLOAD_BYTES)
      throw new Error(`${name} downloaded ${d.amount} bytes, expected ${DOWNLOAD_BYTES}`);
    samples[name].download.push(d.amount / d.seconds / (1024 * 1024));
    const p = await time(contenders[name].pingpong);
    samples[name].pingpong.push(p.amount / p.seconds);
    samples[name].cpu.push(p.cpuMicros / p.amount);
  }
  process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
}
server.stdin.end();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const raw = samples["node:net (raw)"];
const rows = names.map((name) => {
  const d = median(samples[name].download);
  const p = median(samples[name].pingpong);
  return { name, d, p, dr: d / median(raw.download), pr: p / median(raw.pingpong), cpu: median(samples[name].cpu) };
});

const cpu = os.cpus()[0]?.model ?? "unknown CPU";
console.log(
  `\n${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${os.cpus().length} × ${cpu} · ${os.platform()} ${os.release()}`,
);
console.log(
  `median of ${RUNS} alternated runs; download ${DOWNLOAD_BYTES / 1024 / 1024} MiB, ping-pong ${ROUND_TRIPS} × 16 B round trips\n`,
);
console.log("| client | download MiB/s | × raw net | round trips/s | × raw net | client CPU µs per round trip |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.d.toFixed(0)} | ${r.dr.toFixed(2)} | ${r.p.toFixed(0)} | ${r.pr.toFixed(2)} | ${r.cpu.toFixed(1)} |`,
  );
}
const sk = rows.find((r) => r.name === "@sockkit/adapter-node");
const ar = rows.find((r) => r.name === "@arrowood.dev/socket");
const verdict = [
  [`throughput >= 0.9x raw net`, sk.dr >= 0.9],
  [`round trips >= 0.8x raw net`, sk.pr >= 0.8],
  [`ahead of @arrowood.dev/socket on throughput`, sk.d > ar.d],
  [`ahead of @arrowood.dev/socket on round trips`, sk.p > ar.p],
];
console.log("");
for (const [what, ok] of verdict) console.log(`${ok ? "met " : "MISSED"}  ${what}`);
