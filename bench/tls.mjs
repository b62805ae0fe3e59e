// `node --expose-gc bench/tls.mjs`: what TLS costs in @sockkit/adapter-node. The emulation runs TLS
// over a TCP socket it reads itself, through Node's JS stream glue (so it sees a TCP end without a
// TLS close_notify, as workerd does); this measures that glue alone ("tls.connect over a Duplex")
// and the whole emulation (by default, and with uncleanTlsClose: "end", Node's own TLS socket) against
// plain tls.connect, alternated, median of RUNS, peer in a child.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { createConnect } from "@sockkit/adapter-node";
import { collectGarbage, machine, median } from "./stats.mjs";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const DOWNLOAD_BYTES = 64 * 1024 * 1024;
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 10_000);
const PING = new Uint8Array(16).fill(0x70);

if (process.argv[2] === "--serve") {
  const [cert, key] = [readFileSync(join(process.argv[3], "cert.pem")), readFileSync(join(process.argv[3], "key.pem"))];
  const block = Buffer.alloc(1024 * 1024, 0x61);
  const download = tls.createServer({ cert, key }, (socket) => {
    socket.on("error", () => {});
    let sent = 0;
    const pump = () => {
      while (sent < DOWNLOAD_BYTES) {
        sent += block.length;
        if (!socket.write(block)) return void socket.once("drain", pump);
      }
      socket.end();
    };
    pump();
  });
  const echo = tls.createServer({ cert, key }, (socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  const listen = (server) =>
    new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  console.log(JSON.stringify({ download: await listen(download), echo: await listen(echo) }));
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
} else {
  collectGarbage(); // without --expose-gc, fail here, before the peer starts
  const dir = mkdtempSync(join(tmpdir(), "sockkit-bench-tls-"));
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    ],
    { stdio: "pipe" },
  );
  const ca = readFileSync(join(dir, "cert.pem"), "utf8");
  const server = spawn(process.execPath, [new URL(import.meta.url).pathname, "--serve", dir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const ports = await new Promise((resolve, reject) => {
    server.stdout.once("data", (line) => resolve(JSON.parse(String(line))));
    server.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });

  const nodeTls = (port, overDuplex) => {
    const options = { host: "localhost", servername: "localhost", port, ca, noDelay: true };
    if (!overDuplex) return tls.connect(options);
    const tcp = net.connect({ host: "127.0.0.1", port, noDelay: true });
    const feed = new Duplex({
      read: () => tcp.resume(),
      write: (chunk, _encoding, callback) => tcp.write(chunk, callback),
      final: (callback) => tcp.end(callback),
      destroy: (error, callback) => (tcp.destroy(), callback(error)),
    });
    tcp.on("data", (chunk) => feed.push(chunk) || tcp.pause());
    tcp.on("end", () => feed.push(null));
    return tls.connect({ ...options, socket: feed });
  };

  const rawDownload = (overDuplex) =>
    new Promise((resolve, reject) => {
      let n = 0;
      const socket = nodeTls(ports.download, overDuplex);
      socket.on("data", (chunk) => {
        n += chunk.length;
        if (n >= DOWNLOAD_BYTES) resolve((socket.destroy(), n));
      });
      socket.on("error", reject);
    });

  const rawPingPong = (overDuplex) =>
    new Promise((resolve, reject) => {
      const socket = nodeTls(ports.echo, overDuplex);
      let left = ROUND_TRIPS;
      let got = 0;
      socket.once("secureConnect", () => socket.write(PING));
      socket.on("data", (chunk) => {
        got += chunk.length;
        if (got < PING.length) return;
        got -= PING.length;
        if (--left === 0) resolve((socket.destroy(), ROUND_TRIPS));
        else socket.write(PING);
      });
      socket.on("error", reject);
    });

  const lost = createConnect({ tls: { ca } });
  const end = createConnect({ tls: { ca }, uncleanTlsClose: "end" });
  const streamDownload = async (connect) => {
    const socket = connect({ hostname: "localhost", port: ports.download }, { secureTransport: "on" });
    const reader = socket.readable.getReader();
    let n = 0;
    while (n < DOWNLOAD_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
    }
    reader.releaseLock();
    await socket.close();
    return n;
  };
  const streamPingPong = async (connect) => {
    const socket = connect({ hostname: "localhost", port: ports.echo }, { secureTransport: "on" });
    const writer = socket.writable.getWriter();
    const reader = socket.readable.getReader();
    for (let i = 0; i < ROUND_TRIPS; i++) {
      await writer.write(PING);
      for (let got = 0; got < PING.length;) {
        const { done, value } = await reader.read();
        if (done) throw new Error("echo server closed early");
        got += value.byteLength;
      }
    }
    reader.releaseLock();
    writer.releaseLock();
    await socket.close();
    return ROUND_TRIPS;
  };

  const contenders = {
    "tls.connect (native)": { download: () => rawDownload(false), pingpong: () => rawPingPong(false) },
    "tls.connect over a Duplex": { download: () => rawDownload(true), pingpong: () => rawPingPong(true) },
    "@sockkit/adapter-node": { download: () => streamDownload(lost), pingpong: () => streamPingPong(lost) },
    '@sockkit/adapter-node, uncleanTlsClose: "end"': {
      download: () => streamDownload(end),
      pingpong: () => streamPingPong(end),
    },
  };
  const time = async (fn) => {
    collectGarbage();
    const cpu = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const amount = await fn();
    collectGarbage();
    const used = process.cpuUsage(cpu);
    return { amount, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuMicros: used.user + used.system };
  };
  const names = Object.keys(contenders);
  const samples = Object.fromEntries(names.map((name) => [name, { download: [], pingpong: [], cpu: [] }]));
  for (let run = -1; run < RUNS; run++) {
    for (const name of names.map((_, i) => names[(i + Math.max(run, 0)) % names.length])) {
      const d = await time(contenders[name].download);
      const p = await time(contenders[name].pingpong);
      if (run < 0) continue; // warm-up
      if (d.amount < DOWNLOAD_BYTES) throw new Error(`${name} downloaded ${d.amount} bytes`);
      samples[name].download.push(d.amount / d.seconds / (1024 * 1024));
      samples[name].pingpong.push(p.amount / p.seconds);
      samples[name].cpu.push(p.cpuMicros / p.amount);
    }
    if (run >= 0) process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
  }
  server.stdin.end();
  rmSync(dir, { recursive: true, force: true });

  const base = samples["tls.connect (native)"];
  console.log(`\n${machine()}`);
  console.log(
    `median of ${RUNS} alternated runs; TLS 1.3 download ${DOWNLOAD_BYTES / 1024 / 1024} MiB, ping-pong ${ROUND_TRIPS} × 16 B\n`,
  );
  console.log("| client | download MiB/s | × native | round trips/s | × native | client CPU µs per round trip |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const name of names) {
    const s = samples[name];
    const [d, p] = [median(s.download), median(s.pingpong)];
    const row = [
      d.toFixed(0),
      (d / median(base.download)).toFixed(2),
      p.toFixed(0),
      (p / median(base.pingpong)).toFixed(2),
    ];
    console.log(`| ${name} | ${row.join(" | ")} | ${median(s.cpu).toFixed(1)} |`);
  }
}
