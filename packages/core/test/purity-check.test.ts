// The static purity check (scripts/check-core-purity.mjs) that keeps @sockkit/core runtime-neutral:
// it must fail on each kind of runtime-specific code and pass clean code and comments.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("../../../scripts/check-core-purity.mjs", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function check(source: string): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sockkit-purity-"));
  dirs.push(dir);
  writeFileSync(join(dir, "file.ts"), source);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script, dir], { timeout: 10_000 });
    return { ok: true, output: stdout };
  } catch (error) {
    return { ok: false, output: String((error as { stderr?: string }).stderr) };
  }
}

describe("check-core-purity", () => {
  it.each([
    ['import net from "node:net";', "imports a runtime module"],
    ['import { connect } from "cloudflare:sockets";', "imports a runtime module"],
    ['const m = await import("node:fs");', "imports a runtime module"],
    ['const fs = require("fs");', "uses require()"],
    ['import { EventEmitter } from "events";', "imports a Node built-in without the node: prefix"],
    ["const b = Buffer.from([1]);", "uses Buffer"],
    ["const env = process.env.X;", "uses process"],
    ["const v = Deno.version;", "uses a Deno or Bun global"],
    ["const here = __dirname;", "uses CommonJS module globals"],
  ])("refuses %s", async (line, why) => {
    const { ok, output } = await check(`export const a = 1;\n${line}\n`);
    expect(ok).toBe(false);
    expect(output).toContain(`file.ts:2: ${why}`);
  });

  it("passes runtime-neutral code, and the words in comments", async () => {
    const { ok, output } = await check(
      "// a Buffer, process.env and require() named in a comment\n/**\n * Buffer in JSDoc\n */\n/** On Bun and Deno alike. */\nexport const bytes = /* not a Buffer */ new Uint8Array(4);\n",
    );
    expect({ ok, output }).toEqual({ ok: true, output: expect.stringContaining("1 files checked") });
  });
});
