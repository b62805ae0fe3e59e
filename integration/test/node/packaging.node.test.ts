// Every published entry point loads in plain Node (no Vitest resolution in between) through both
// `require` and `import`, and the two builds export the same names. publint and attw (in the lint
// step) check the exports maps; this checks that the files they point at run.
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const packagesDir = join(import.meta.dirname, "../../../packages");
const rootDir = join(import.meta.dirname, "../../..");

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
        "@sockkit/core/adapter",
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

interface Manifest {
  name: string;
  private?: boolean;
  license?: string;
  description?: string;
  keywords?: string[];
  repository?: { type: string; url: string; directory?: string };
  homepage?: string;
  bugs?: { url: string };
  publishConfig?: { access?: string };
}

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
const published = readdirSync(packagesDir).map((dir) => ({ dir, manifest: readManifest(join(packagesDir, dir)) }));

describe("package metadata (what npm shows and what a user's lawyer asks for)", () => {
  const root = readManifest(rootDir);
  // The repository's address is written once, in the root manifest; every package points into it.
  const web = root.repository!.url.replace(/^git\+/, "").replace(/\.git$/, "");

  it("lists every package folder as published (none private)", () => {
    expect(published.map((p) => p.manifest.name).sort()).toEqual([
      "@sockkit/adapter-bun",
      "@sockkit/adapter-deno",
      "@sockkit/adapter-node",
      "@sockkit/adapter-workers",
      "@sockkit/cli",
      "@sockkit/core",
      "@sockkit/gateway",
    ]);
    for (const { manifest } of published) expect(manifest.private, manifest.name).toBeUndefined();
  });

  it.each(published)("$manifest.name: an MIT LICENSE file by the sockkit contributors", ({ dir, manifest }) => {
    expect(manifest.license).toBe("MIT");
    const license = readFileSync(join(packagesDir, dir, "LICENSE"), "utf8");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} sockkit contributors\n/);
    expect(license).toBe(readFileSync(join(rootDir, "LICENSE"), "utf8"));
  });

  it.each(published)("$manifest.name: repository, homepage, bugs, keywords, public access", ({ dir, manifest }) => {
    expect(manifest.description?.length).toBeGreaterThan(20);
    expect(manifest.repository).toEqual({ ...root.repository, directory: `packages/${dir}` });
    expect(manifest.homepage).toBe(`${web}/tree/main/packages/${dir}#readme`);
    expect(manifest.bugs).toEqual(root.bugs);
    expect(manifest.bugs!.url).toBe(`${web}/issues`);
    expect(manifest.keywords?.length).toBeGreaterThanOrEqual(3);
    // npm publishes a scoped name as restricted (paid, private) unless told otherwise.
    if (manifest.name.startsWith("@")) expect(manifest.publishConfig?.access).toBe("public");
  });
});

interface PackedFile {
  path: string;
}

/** What `npm pack` would put in the tarball, as npm itself lists it. */
async function packed(dir: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: join(packagesDir, dir),
    timeout: 60_000,
  });
  const [result] = JSON.parse(stdout) as Array<{ files: PackedFile[] }>;
  return result!.files.map((file) => file.path).sort();
}

/** Every file the manifest points at: exports (all conditions), main, module, types, bin. */
function pointedAt(manifest: Record<string, unknown>): string[] {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === "string") found.add(value.replace(/^\.\//, ""));
    else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(manifest.exports);
  walk(manifest.bin);
  for (const field of ["main", "module", "types"]) walk(manifest[field]);
  return [...found].filter((path) => !path.endsWith("package.json"));
}

describe("npm pack: each package ships its build and its documents, nothing else", () => {
  it.each(published)("$manifest.name", async ({ dir }) => {
    const manifest = JSON.parse(readFileSync(join(packagesDir, dir, "package.json"), "utf8")) as {
      name: string;
      files: string[];
    } & Record<string, unknown>;
    const files = await packed(dir);
    // Changesets adds each release under the title line, which must be the package's name.
    expect(readFileSync(join(packagesDir, dir, "CHANGELOG.md"), "utf8").split("\n")[0]).toBe(`# ${manifest.name}`);
    // The documents every package has, and the build.
    expect(files).toEqual(expect.arrayContaining(["CHANGELOG.md", "LICENSE", "README.md", "package.json"]));
    expect(files.filter((path) => path.startsWith("dist/")).length).toBeGreaterThan(0);
    // Anything else must be named in "files" (the CLI's committed bin, the gateway's openapi.yaml).
    const declared = new Set(manifest.files);
    const always = new Set(["CHANGELOG.md", "LICENSE", "README.md", "package.json"]);
    const stray = files.filter((path) => !path.startsWith("dist/") && !always.has(path) && !declared.has(path));
    expect(stray).toEqual([]);
    // No sources, tests, source maps (the build is unminified: stack traces read as they are),
    // build logs or TypeScript build info.
    expect(
      files.filter((path) => /(^|\/)(src|test|tests|__tests__)\/|\.test\.|\.map$|\.log$|tsbuildinfo/.test(path)),
    ).toEqual([]);
    // And everything the manifest points at is in it.
    expect(files).toEqual(expect.arrayContaining(pointedAt(manifest)));
  });
});
