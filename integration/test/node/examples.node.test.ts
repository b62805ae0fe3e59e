// The examples that run on Node, run as their README or npm script says.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("examples/node-emulation (npm run demo:emulation)", () => {
  it("runs the Workers code unmodified on Node and says what it is, not what it once replaced", async () => {
    // What the npm script runs after its build.
    const { stdout } = await run(
      process.execPath,
      ["--import", "@sockkit/adapter-node/register", "examples/node-emulation/demo.mjs"],
      { cwd: root, timeout: 20_000 },
    );
    expect(stdout).toContain('got: "you said: HELLO FROM WORKER CODE"');
    expect(stdout).toMatch(/A refused connection rejects as on Workers: ECONNECT: /);
    // It is not `npm start` (the gateway is), and it speaks of no issue tracker.
    const text = stdout + readFileSync(`${root}examples/node-emulation/demo.mjs`, "utf8");
    expect(text).not.toMatch(/npm start|issue/i);
  });
});
