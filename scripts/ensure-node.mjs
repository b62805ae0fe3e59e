// Finds (installing on first use) a Node binary of another major version from
// the npm package `node@<major>`, kept in .tools/ and never as a project
// dependency: a `node` in the project's node_modules/.bin would shadow the
// system one inside npm scripts.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export function ensureNode(major) {
  const dir = join(root, ".tools", `node${major}`);
  const candidates = [
    join(dir, "node_modules/node/bin/node"),
    join(dir, `node_modules/node/node_modules/node-${process.platform}-${process.arch}/bin/node`),
  ];
  const works = (bin) => {
    try {
      return execFileSync(bin, ["--version"], { encoding: "utf8" }).startsWith(`v${major}.`);
    } catch {
      return false;
    }
  };
  let found = candidates.find((bin) => existsSync(bin) && works(bin));
  if (found) return found;
  console.log(`Installing Node ${major} from the npm package node@${major} into ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true }));
  execFileSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", `node@${major}`], {
    cwd: dir,
    stdio: "inherit",
  });
  found = candidates.find((bin) => existsSync(bin) && works(bin));
  if (!found) {
    throw new Error(
      `Could not get a Node ${major} binary from npm (looked in ${candidates.join(", ")}). Install Node ${major} and retry.`,
    );
  }
  return found;
}
