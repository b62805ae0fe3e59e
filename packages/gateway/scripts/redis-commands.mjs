#!/usr/bin/env node
// Captures Redis's own command table (every command and subcommand with its ACL categories) as data
// for the gateway's command policy: packages/gateway/src/policy/redis-commands.json.
//
//   node packages/gateway/scripts/redis-commands.mjs                   # starts redis-server on a free port
//   node packages/gateway/scripts/redis-commands.mjs redis://host:port # or reads a running one
//
// integration/test/node/redis-commands.node.test.ts compares the file with the harness's redis-server
// through readCommandTable(), so the file cannot drift from the Redis it was taken from.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";

export const TABLE_FILE = fileURLToPath(new URL("../src/policy/redis-commands.json", import.meta.url));

/**
 * The command table as the policy stores it, read through `send` (a function that sends one command
 * and resolves with its RESP2 reply: arrays of strings and integers).
 * `exempt` lists the commands flagged no_auth (AUTH, HELLO, QUIT, RESET), which Redis's ACLs never refuse.
 * @returns {Promise<{ source: string, version: string, categories: string[], exempt: string[], commands: Record<string, string[]> }>}
 */
export async function readCommandTable(send) {
  const info = String(await send("INFO", "server"));
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1];
  if (!version) throw new Error("INFO server did not name the redis_version");
  const categories = /** @type {string[]} */ (await send("ACL", "CAT")).map(String).sort();
  const commands = {};
  const exempt = [];
  const add = (entry) => {
    // COMMAND INFO: [name, arity, flags, first key, last key, step, ACL categories, tips, key specs, subcommands]
    const name = String(entry[0]).toLowerCase();
    commands[name] = entry[6].map((c) => String(c).replace(/^@/, "")).sort();
    if (entry[2].map(String).includes("no_auth")) exempt.push(name);
    for (const sub of entry[9] ?? []) add(sub);
  };
  for (const entry of await send("COMMAND", "INFO")) if (entry) add(entry);
  const sorted = Object.fromEntries(Object.entries(commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    source: `redis-server ${version}: COMMAND INFO and ACL CAT, captured by packages/gateway/scripts/redis-commands.mjs`,
    version,
    categories,
    exempt: exempt.sort(),
    commands: sorted,
  };
}

async function main() {
  const [url] = process.argv.slice(2);
  const { createConnect } = await import("@sockkit/adapter-node");
  const { createRedisClient } = await import("@sockkit/core/redis");
  let server;
  let target = url;
  if (!target) {
    const port = await new Promise((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address();
        probe.close(() => resolve(port));
      });
    });
    server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    target = `redis://127.0.0.1:${port}`;
    for (let i = 0; !(await listening(port)); i++) {
      if (i > 100) throw new Error("redis-server did not start within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const client = createRedisClient({ connect: createConnect(), url: target, protocol: 2 });
  try {
    const table = await readCommandTable((...args) => client.send(...args));
    // Formatted as the repository's Prettier would, so that the captured file passes npm test's format check.
    const prettier = await import("prettier");
    const config = (await prettier.resolveConfig(TABLE_FILE)) ?? {};
    writeFileSync(TABLE_FILE, await prettier.format(JSON.stringify(table), { ...config, filepath: TABLE_FILE }));
    console.log(`${TABLE_FILE}: ${Object.keys(table.commands).length} commands of redis-server ${table.version}`);
  } finally {
    await client.close().catch(() => {});
    server?.kill("SIGTERM");
  }
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
