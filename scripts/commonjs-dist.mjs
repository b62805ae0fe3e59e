// Completes a package's CommonJS build in <dist>/cjs (built there by tsup, one file per module):
// marks the folder as CommonJS, so its .js files load as such, and gives it the declarations tsc
// wrote for the ESM build in <dist> (the same files: in a CommonJS folder TypeScript reads them as
// CommonJS declarations).
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const dist = process.argv[2];
if (!dist) throw new Error("usage: node scripts/commonjs-dist.mjs <dist folder>");
const cjs = join(dist, "cjs");
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  const from = join(entry.parentPath ?? entry.path, entry.name); // .path before Node 20.12
  if (!entry.isFile() || !entry.name.endsWith(".d.ts") || from.startsWith(`${cjs}/`)) continue;
  const to = join(cjs, from.slice(dist.length + 1));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
writeFileSync(join(cjs, "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);
