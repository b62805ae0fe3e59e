// How the integration tests are laid out, checked: file names say their runtime, the code that runs
// in workerd too uses no Node API, and the Node leak check fails a file that leaks.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const integration = join(import.meta.dirname, "../..");
const root = join(integration, "..");

const filesIn = (dir: string) =>
  readdirSync(join(integration, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(integration.length + 1));

describe("the integration tests' layout", () => {
  it("names every test file for the runtime it runs in", () => {
    const misnamed = [
      ...filesIn("test/node").filter((f) => !f.endsWith(".node.test.ts")),
      // Tests written for Workers, run on Node through the Vitest helper.
      ...filesIn("test/helper").filter((f) => !f.endsWith(".node.test.ts")),
      ...filesIn("test/workerd").filter((f) => !f.endsWith(".workerd.test.ts")),
    ];
    expect(misnamed).toEqual([]);
  });

  it("keeps the suites and harness/shared runtime-neutral: no Node API, only types from harness/node", async () => {
    for (const dir of ["integration/suites", "integration/harness/shared"]) {
      await run(process.execPath, [join(root, "scripts/check-core-purity.mjs"), dir], { cwd: root });
    }
    const valueImports = [...filesIn("suites"), ...filesIn("harness/shared")].flatMap((file) =>
      readFileSync(join(integration, file), "utf8")
        .split("\n")
        .filter(
          (line) => /^import (?!type ).*harness\/node\//.test(line) || /^import (?!type ).*"\.\.\/node\//.test(line),
        )
        .map((line) => `${file}: ${line}`),
    );
    expect(valueImports).toEqual([]);
  });

  it("the leak check fails a file that leaves a timer running", async () => {
    const vitest = join(root, "node_modules/vitest/vitest.mjs");
    const result = await run(process.execPath, [vitest, "run", "--config", "fixtures/leak-check/vitest.config.ts"], {
      cwd: integration,
      timeout: 60_000,
    }).then(
      () => ({ code: 0, output: "" }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        output: error.stdout + error.stderr,
      }),
    );
    expect(result.code).toBe(1);
    expect(result.output).toContain("sockets or timers left open by this test file");
    expect(result.output).toContain("Timeout");
  });
});
