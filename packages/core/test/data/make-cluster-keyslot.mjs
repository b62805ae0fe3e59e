// Regenerates cluster-keyslot.json: keys and the slot `redis-cli CLUSTER KEYSLOT` gives each, asked of a
// real cluster-enabled redis-server (started here on a free port, removed after). The key goes through
// redis-cli's stdin (`-x`), so any bytes (NUL, invalid UTF-8, braces) reach the server as they are.
//   node packages/core/test/data/make-cluster-keyslot.mjs
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const dir = mkdtempSync(path.join(os.tmpdir(), "keyslot-"));
const server = spawn(
  "redis-server",
  ["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--dir", dir, "--save", ""],
  { stdio: "ignore" },
);
await new Promise((resolve) => setTimeout(resolve, 500));

const keyslot = (bytes) =>
  new Promise((resolve, reject) => {
    const child = execFile("redis-cli", ["-p", String(port), "-x", "CLUSTER", "KEYSLOT"], (error, stdout) =>
      error ? reject(error) : resolve(Number(stdout.trim())),
    );
    child.stdin.end(bytes);
  });

// A seeded generator, so the file changes only when the list does.
let seed = 19;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = (alphabet) => alphabet[Math.floor(random() * alphabet.length)];

const texts = [
  "123456789", // the cluster spec's CRC16 test vector (0x31C3)
  "",
  "a",
  "foo",
  "bar",
  "hello",
  "key:1",
  "user:1000",
  "0",
  "123",
  "-1",
  "3.14",
  // hash tags: the first "{" and the first "}" after it, with at least one byte between
  "{}",
  "{}a",
  "a{}",
  "{a}{b}",
  "{",
  "}",
  "}{",
  "}{a}",
  "{a",
  "a}",
  "{{a}}",
  "{{}}",
  "a{b}c",
  "{a}}",
  "{}{a}",
  "{user1000}.following",
  "{user1000}.followers",
  "foo{}{bar}",
  "foo{{bar}}zap",
  "foo{bar}{zap}",
  "{{",
  "}}",
  "{ }",
  "{\t}",
  "x{y}",
  "{é}",
  "{é}x",
  "x{é}",
  // beyond ASCII (UTF-8 on the wire)
  "é",
  "☃",
  "𝄞",
  "日本語",
  "{日本}語",
  "{𝄞}a",
  "ключ",
  "🔑:1",
];
for (let i = 0; i < 1500; i++) {
  const length = 1 + Math.floor(random() * 24);
  let key = "";
  for (let j = 0; j < length; j++) key += pick("abcdefghijklmnopqrstuvwxyz0123456789:_-{}{}.é☃");
  texts.push(key);
}
const keys = texts.map((text) => ({ text, bytes: Buffer.from(text, "utf8") }));
for (let i = 0; i < 300; i++) {
  const bytes = Buffer.alloc(1 + Math.floor(random() * 16));
  for (let j = 0; j < bytes.length; j++)
    bytes[j] = random() < 0.2 ? pick([0x7b, 0x7d, 0x00, 0xff]) : Math.floor(random() * 256);
  keys.push({ hex: bytes.toString("hex"), bytes });
}

const out = [];
try {
  for (let i = 0; i < keys.length; i += 16) {
    const batch = keys.slice(i, i + 16);
    const slots = await Promise.all(batch.map((k) => keyslot(k.bytes)));
    batch.forEach((k, j) => out.push(k.text !== undefined ? [k.text, slots[j]] : [{ hex: k.hex }, slots[j]]));
  }
} finally {
  server.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
const file = new URL("./cluster-keyslot.json", import.meta.url);
writeFileSync(
  file,
  JSON.stringify(
    { source: "redis-cli -x CLUSTER KEYSLOT against redis-server 7.0.15 (cluster-enabled)", keys: out },
    null,
    0,
  ) + "\n",
);
console.log(`${out.length} keys written to ${file.pathname}`);
