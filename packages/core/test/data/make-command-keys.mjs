// Regenerates command-keys.json: for sample commands, the server's own answer to `COMMAND GETKEYS`
// (which keys it finds) and its `COMMAND INFO` entry (the key specs), from a real redis-server
// started here on a free port (RESP2 through ioredis, nobody here wrote either). The cluster client's
// built-in key table and its key-spec walker are both checked against these answers.
//   node packages/core/test/data/make-command-keys.mjs
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import Redis from "ioredis";

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", ""], {
  stdio: "ignore",
});
await new Promise((resolve) => setTimeout(resolve, 400));
const redis = new Redis({ port, host: "127.0.0.1" });

const samples = [
  ["GET", "k"],
  ["SET", "k", "v", "EX", "10"],
  ["GETEX", "k", "PX", "5"],
  ["MGET", "a", "b", "c"],
  ["MSET", "a", "1", "b", "2"],
  ["MSETNX", "a", "1", "b", "2", "c", "3"],
  ["DEL", "a", "b"],
  ["EXISTS", "a", "b", "c"],
  ["UNLINK", "x"],
  ["TOUCH", "a", "b"],
  ["RENAME", "a", "b"],
  ["RENAMENX", "a", "b"],
  ["COPY", "a", "b", "REPLACE"],
  ["LMOVE", "a", "b", "LEFT", "RIGHT"],
  ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
  ["RPOPLPUSH", "a", "b"],
  ["BLPOP", "a", "b", "c", "0"],
  ["BRPOP", "a", "1.5"],
  ["BZPOPMIN", "z1", "z2", "0"],
  ["SINTER", "s1", "s2"],
  ["SUNIONSTORE", "d", "s1", "s2"],
  ["SMOVE", "s1", "s2", "m"],
  ["PFMERGE", "d", "h1", "h2"],
  ["PFCOUNT", "h1", "h2"],
  ["LCS", "a", "b", "LEN"],
  ["EVAL", "return 1", "2", "k1", "k2", "arg"],
  ["EVALSHA", "abc", "1", "k1", "arg"],
  ["EVAL_RO", "return 1", "0", "x"],
  ["FCALL", "f", "1", "k1", "a"],
  ["ZUNIONSTORE", "d", "2", "z1", "z2", "WEIGHTS", "1", "2"],
  ["ZINTERSTORE", "d", "1", "z1"],
  ["ZDIFFSTORE", "d", "2", "z1", "z2"],
  ["ZUNION", "2", "z1", "z2", "WITHSCORES"],
  ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"],
  ["SINTERCARD", "3", "a", "b", "c"],
  ["LMPOP", "2", "l1", "l2", "LEFT"],
  ["BLMPOP", "0", "2", "l1", "l2", "LEFT", "COUNT", "2"],
  ["ZMPOP", "1", "z", "MIN"],
  ["BZMPOP", "1", "2", "z1", "z2", "MAX"],
  ["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
  ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", ">"],
  ["XADD", "s", "*", "f", "v"],
  ["XGROUP", "CREATE", "s", "g", "$"],
  ["XINFO", "STREAM", "s"],
  ["OBJECT", "ENCODING", "k"],
  ["MEMORY", "USAGE", "k"],
  ["SORT", "l", "LIMIT", "0", "1", "STORE", "dst"],
  ["SORT", "l"],
  ["SORT_RO", "l", "ALPHA"],
  ["GEORADIUS", "g", "0", "0", "10", "km", "STORE", "d1"],
  ["GEOSEARCHSTORE", "d", "src", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
  ["ZRANGESTORE", "d", "src", "0", "-1"],
  ["HSET", "h", "f", "v"],
  ["ZADD", "z", "1", "m"],
  ["SPUBLISH", "ch", "msg"],
  ["BITOP", "AND", "d", "a", "b"],
  ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"],
  ["GETDEL", "k"],
  ["BITFIELD_RO", "k", "GET", "u8", "0"],
  ["WATCH", "a", "b"],
  ["XAUTOCLAIM", "s", "g", "c", "0", "0"],
  ["GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
  ["ZRANGE", "z", "0", "-1"],
  ["EXPIRE", "k", "10"],
];

const entries = [];
try {
  for (const args of samples) {
    const [info] = await redis.call("COMMAND", "INFO", args[0]);
    let keys;
    try {
      keys = await redis.call("COMMAND", "GETKEYS", ...args);
    } catch (error) {
      keys = { error: error.message };
    }
    entries.push({ args, keys, info });
  }
} finally {
  redis.disconnect();
  server.kill("SIGKILL");
}
const file = new URL("./command-keys.json", import.meta.url);
writeFileSync(
  file,
  JSON.stringify({ source: "COMMAND GETKEYS and COMMAND INFO, redis-server 7.0.15, RESP2", entries }) + "\n",
);
console.log(`${entries.length} commands written to ${file.pathname}`);
