// Static check: @sockkit/core must run on every runtime, so its source may not
// reach for Node, Cloudflare, Deno or Bun APIs. A runtime test cannot catch this:
// the workerd test pool enables Node compatibility.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// The folder to check (relative to the repository, or absolute): packages/core/src unless given.
const src = resolve(root, process.argv[2] ?? "packages/core/src");

const rules = [
  [/\bfrom\s+["'](node:|cloudflare:|bun:|deno:)/, "imports a runtime module"],
  [/\bimport\s*\(\s*["'](node:|cloudflare:|bun:)/, "imports a runtime module"],
  [/\brequire\s*\(/, "uses require()"],
  [
    /\bfrom\s+["'](fs|net|tls|dns|os|path|crypto|stream|events|buffer|child_process|http|https|url|util)["']/,
    "imports a Node built-in without the node: prefix",
  ],
  [/\bBuffer\b/, "uses Buffer"],
  [/\bprocess\b/, "uses process"],
  [/\b(Deno|Bun)\b/, "uses a Deno or Bun global"],
  [/\b__dirname\b|\b__filename\b/, "uses CommonJS module globals"],
];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) yield path;
  }
}

const problems = [];
for (const file of files(src)) {
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    // Comments may name anything: `/* … */` on one line, `//` to the end, a block comment's `*` lines.
    const code = line
      .replace(/\/\*.*?\*\//g, "")
      .replace(/\/\/.*$/, "")
      .replace(/^\s*\*.*$/, "");
    for (const [pattern, why] of rules) {
      if (pattern.test(code)) problems.push(`${relative(root, file)}:${i + 1}: ${why}: ${line.trim()}`);
    }
  });
}

if (problems.length > 0) {
  console.error(`${relative(root, src)} must stay runtime-neutral:\n` + problems.join("\n"));
  process.exit(1);
}
console.log(`purity of ${relative(root, src)}: ${[...files(src)].length} files checked, no runtime-specific API used`);
