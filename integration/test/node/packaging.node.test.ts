// Every published entry point loads in plain Node (no Vitest resolution in between) through both
// `require` and `import`, and the two builds export the same names. publint and attw (in the lint
// step) check the exports maps; this checks that the files they point at run.
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const packagesDir = join(import.meta.dirname, "../../../packages");

/** Each package's subpaths that have both an `import` and a `require` condition. */
const dualEntries = readdirSync(packagesDir).flatMap((dir) => {
  const pkg = JSON.parse(readFileSync(join(packagesDir, dir, "package.json"), "utf8")) as {
    name: string;
    exports: Record<string, unknown>;
  };
  return Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === "object" && target !== null && "import" in target && "require" in target)
    .map(([subpath]) => (subpath === "." ? pkg.name : `${pkg.name}/${subpath.slice(2)}`));
});

// Run from integration/, where every workspace package is a dependency.
const probe = `
import { createRequire } from "node:module";
const require = createRequire(process.cwd() + "/");
const out = {};
for (const spec of JSON.parse(process.argv[1])) {
  out[spec] = { require: Object.keys(require(spec)).sort(), import: Object.keys(await import(spec)).filter((k) => k !== "default").sort() };
}
console.log(JSON.stringify(out));
`;

describe("packaging", () => {
  it("finds the dual entries it is meant to check", () => {
    expect(dualEntries).toEqual(
      expect.arrayContaining([
        "@sockkit/core",
        "@sockkit/core/mqtt",
        "@sockkit/core/redis",
        "@sockkit/adapter-node",
        "@sockkit/adapter-workers",
        "@sockkit/gateway",
        "@sockkit/cli",
      ]),
    );
  });

  it("loads every entry with require() and import(), with the same exports", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", probe, JSON.stringify(dualEntries)],
      {
        cwd: join(import.meta.dirname, "../.."),
        timeout: 20_000,
      },
    );
    const loaded = JSON.parse(stdout) as Record<string, { require: string[]; import: string[] }>;
    for (const spec of dualEntries) {
      expect(loaded[spec]!.require.length, `${spec} exports nothing`).toBeGreaterThan(0);
      expect(loaded[spec]!.require, spec).toEqual(loaded[spec]!.import);
    }
  });

  // Each CommonJS entry used to carry its own copy of the shared modules, so an error thrown by the
  // Redis client was not instanceof the root's classes under require() (ESM shared one copy).
  it.each(["require", "import"])(
    "%s: entries of one package share one copy of what they both export, errors included",
    async (system) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(import.meta.dirname, "../../fixtures/shared-classes.mjs"), system, JSON.stringify(dualEntries)],
        { cwd: join(import.meta.dirname, "../.."), timeout: 20_000 },
      );
      const report = JSON.parse(stdout) as {
        split: string[];
        redis: Record<string, unknown>;
        mqtt: Record<string, unknown>;
      };
      expect(report.split).toEqual([]);
      expect(report.redis).toEqual({ name: "ReplyError", code: "EREPLY", rootClass: true, sockkitError: true });
      expect(report.mqtt).toEqual({ name: "ClosedError", code: "ECLOSED", rootClass: true, sockkitError: true });
    },
  );
});
