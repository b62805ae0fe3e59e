// What a Worker pays in bundle size for what it imports: each Worker bundled, minified, the way
// `wrangler deploy --minify` does, against the budgets recorded in the README's "Bundle size" table.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../../..");
const fixtures = join(import.meta.dirname, "../../fixtures/bundle");

/** The Workers measured: the name in the README's table, and the entry file. */
const WORKERS: Record<string, string> = {
  patterns: join(fixtures, "patterns-worker.mjs"),
  redis: join(fixtures, "redis-worker.mjs"),
  mqtt: join(fixtures, "mqtt-worker.mjs"),
  gateway: join(root, "examples/gateway-worker/src/index.ts"),
};

/** A budget may be exceeded by this much before the test fails. */
const TOLERANCE = 0.1;

interface Measured {
  minified: number;
  gzip: number;
  inputs: string[];
}

// wrangler 4.81's bundleWorker(): esbuild with its build conditions, ESM, es2024, keepNames, the
// platform left at esbuild's default (browser), NODE_ENV defined, cloudflare:* left to the runtime.
async function bundle(entry: string): Promise<Measured> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: root,
    bundle: true,
    write: false,
    outfile: "worker.js",
    format: "esm",
    target: "es2024",
    conditions: ["workerd", "worker", "browser"],
    keepNames: true,
    minify: true,
    metafile: true,
    external: ["cloudflare:*"],
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  const inputs = Object.keys(Object.values(result.metafile.outputs)[0]!.inputs);
  return { minified: output!.contents.byteLength, gzip: gzipSync(output!.contents).byteLength, inputs };
}

/** The README's "Bundle size" table: `| \`name\` | what it imports | 12,345 B | 4,567 B |`. */
function budgets(): Map<string, { minified: number; gzip: number }> {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Bundle size"));
  const rows = new Map<string, { minified: number; gzip: number }>();
  for (const match of section.matchAll(/^\| `(\w+)` +\|.*\| ([\d,]+) B +\| ([\d,]+) B +\|$/gm)) {
    rows.set(match[1]!, {
      minified: Number(match[2]!.replaceAll(",", "")),
      gzip: Number(match[3]!.replaceAll(",", "")),
    });
  }
  return rows;
}

const recorded = budgets();

describe("bundle size of a Worker, minified as wrangler does", () => {
  it("has a budget in the README for every Worker it measures", () => {
    expect([...recorded.keys()].sort()).toEqual(Object.keys(WORKERS).sort());
  });

  it.each(Object.keys(WORKERS))("%s: within 10% of its recorded budget", async (name) => {
    const measured = await bundle(WORKERS[name]!);
    const budget = recorded.get(name)!;
    const report = `${name}: ${measured.minified} B minified, ${measured.gzip} B gzip (budget ${budget.minified} B, ${budget.gzip} B)`;
    console.log(report);
    expect(measured.minified, report).toBeLessThanOrEqual(budget.minified * (1 + TOLERANCE));
    expect(measured.gzip, report).toBeLessThanOrEqual(budget.gzip * (1 + TOLERANCE));
  });

  // ipaddr.js (about 13 KB minified) is the destination policy's; a Worker without a policy must not carry it.
  it.each(["patterns", "redis", "mqtt"])(
    "%s: leaves out what it does not use (no ipaddr.js, no policy)",
    async (name) => {
      const { inputs } = await bundle(WORKERS[name]!);
      expect(inputs.filter((input) => /ipaddr\.js|destination\//.test(input))).toEqual([]);
    },
  );

  it("patterns: carries neither client", async () => {
    const { inputs } = await bundle(WORKERS.patterns!);
    expect(inputs.filter((input) => /\/(redis|mqtt)\//.test(input))).toEqual([]);
  });
});
