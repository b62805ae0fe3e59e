// Finds (installing on first use) a runtime binary from its npm package: `node@<major>`, `bun@<major>`
// or `deno@<major>`, each kept in .tools/<name><major>/ and never as a project dependency (a `node` in
// the project's node_modules/.bin would shadow the system one inside npm scripts, and the three
// binaries weigh 300 MB together).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const platform = `${process.platform}-${process.arch}`;

/**
 * Where each package leaves its binary. npm may skip install scripts (npm 11 asks for approval), so
 * the platform package's own binary is looked at too, and `postinstall` names the package's script
 * that puts the binary in place when it is needed.
 */
const runtimes = {
  node: {
    version: ["--version"],
    matches: (out, major) => out.startsWith(`v${major}.`),
    candidates: ["node_modules/node/bin/node", `node_modules/node/node_modules/node-${platform}/bin/node`],
  },
  bun: {
    version: ["--version"],
    matches: (out, major) => out.startsWith(`${major}.`),
    candidates: [
      "node_modules/bun/bin/bun.exe",
      `node_modules/@oven/bun-${process.platform}-${process.arch === "arm64" ? "aarch64" : process.arch}/bin/bun`,
    ],
    postinstall: ["node_modules/bun", "install.js"],
  },
  deno: {
    version: ["--version"],
    matches: (out, major) => out.startsWith(`deno ${major}.`),
    candidates: [
      `node_modules/@deno/${process.platform}-${process.arch === "arm64" ? "arm64" : "x64"}-glibc/deno`,
      "node_modules/deno/deno",
    ],
    postinstall: ["node_modules/deno", "install.cjs"],
  },
};

/**
 * The path of a working `name` binary of major version `major` from .tools/, installing the npm
 * package `name@major` there first if needed. Throws with what to do when npm has none for this machine.
 */
export function ensureRuntime(name, major) {
  const runtime = runtimes[name];
  if (!runtime) throw new TypeError(`unknown runtime ${name}: expected one of ${Object.keys(runtimes).join(", ")}`);
  const dir = join(root, ".tools", `${name}${major}`);
  const candidates = runtime.candidates.map((path) => join(dir, path));
  const works = (bin) => {
    try {
      return runtime.matches(execFileSync(bin, runtime.version, { encoding: "utf8" }), major);
    } catch {
      return false;
    }
  };
  const find = () => candidates.find((bin) => existsSync(bin) && works(bin));
  let found = find();
  if (found) return found;
  console.log(`Installing ${name} ${major} from the npm package ${name}@${major} into ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true }));
  execFileSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", `${name}@${major}`], {
    cwd: dir,
    stdio: "inherit",
  });
  found = find();
  if (!found && runtime.postinstall) {
    const [pkg, script] = runtime.postinstall;
    execFileSync(process.execPath, [script], { cwd: join(dir, pkg), stdio: "inherit" });
    found = find();
  }
  if (!found) {
    throw new Error(
      `Could not get a ${name} ${major} binary from npm (looked in ${candidates.join(", ")}). Install ${name} ${major} and retry.`,
    );
  }
  return found;
}

/** A Node binary of another major version (see {@link ensureRuntime}). */
export const ensureNode = (major) => ensureRuntime("node", major);
