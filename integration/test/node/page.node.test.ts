// The gateway's page at `/`, driven in headless Chromium through playwright-core: CHROMIUM_PATH's, else the
// system's, else the one inside the npm package @sparticuz/chromium (what a fresh machine gets).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, inject, it } from "vitest";
import { chromium, type Page } from "playwright-core";
import { serveGateway } from "@sockkit/cli";
import { CHROMIUM_ARGS, findChromium } from "../../harness/node/browser.js";
import { freePort } from "../../harness/node/processes.js";

const redis = inject("redis");
const root = fileURLToPath(new URL("../../../", import.meta.url));
/** The screenshot the console test keeps (.reports/ is gitignored; npm test writes its reports there too). */
export const SCREENSHOT = join(root, ".reports/gateway-page.png");

describe("finding Chromium", () => {
  const dir = mkdtempSync(join(tmpdir(), "sockkit-browser-"));
  const fake = join(dir, "chromium");
  writeFileSync(fake, "");
  const missing = join(dir, "none");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes CHROMIUM_PATH first, and refuses one that does not exist", async () => {
    await expect(findChromium({ env: { CHROMIUM_PATH: fake }, systemPaths: [] })).resolves.toEqual({
      path: fake,
      source: "CHROMIUM_PATH",
    });
    await expect(findChromium({ env: { CHROMIUM_PATH: missing }, systemPaths: [fake] })).rejects.toThrow(
      `CHROMIUM_PATH is ${missing}, which does not exist`,
    );
  });

  it("then the system's, then the npm package's", async () => {
    await expect(findChromium({ env: {}, systemPaths: [missing, fake] })).resolves.toEqual({
      path: fake,
      source: "system",
    });
    const packaged = await findChromium({ env: {}, systemPaths: [missing] });
    expect(packaged.source).toBe("@sparticuz/chromium");
    expect(packaged.path).toMatch(/chromium$/);
  });
});

describe("the gateway's console page in headless Chromium, on `sockkit gateway --demo`", () => {
  it("lists the demo's destinations and probes each with one click, runs Redis commands, publishes and subscribes", async () => {
    const { path } = await findChromium();
    const port = await freePort();
    const demo = spawn(
      process.execPath,
      [join(root, "packages/cli/bin/sockkit.js"), "gateway", "--demo", "--quiet", "--port", String(port)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    demo.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    demo.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise((resolve) => demo.once("exit", resolve));
    const browser = await chromium.launch({ executablePath: path, args: CHROMIUM_ARGS });
    try {
      for (const deadline = Date.now() + 15_000; !/refused: 403/.test(output);) {
        if (demo.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`http://127.0.0.1:${port}/`);
      await expect(page.title()).resolves.toBe("sockkit gateway");

      // The demo's destinations, listed: its Redis and its broker, each with a probe button.
      const rows = page.locator("#dest-rows tr.dest");
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
      const names = await rows.locator("td:first-child").allTextContents();
      expect(names.sort()).toEqual(["demo MQTT broker (Aedes)", "demo Redis"]);
      const redisRow = rows.filter({ hasText: "demo Redis" });
      const brokerRow = rows.filter({ hasText: "demo MQTT" });
      // The first click succeeds (it used to get a 403: the page probed a port the demo had not allowed).
      await redisRow.locator("button.probe").click();
      await expect.poll(() => redisRow.locator(".result").textContent(), { timeout: 10_000 }).toMatch(/^ok .*PONG/);
      expect(await redisRow.locator(".latency").textContent()).toMatch(/^\d+ ms$/);
      await brokerRow.locator("button.probe").click();
      await expect
        .poll(() => brokerRow.locator(".result").textContent(), { timeout: 10_000 })
        .toMatch(/^ok .*returnCode/);
      // Each probe adds a point to the row's sparkline.
      for (let i = 2; i <= 5; i++) {
        await redisRow.locator("button.probe").click();
        await expect
          .poll(() => redisRow.locator("svg.spark").getAttribute("data-points"), { timeout: 10_000 })
          .toBe(String(i));
      }
      expect(await redisRow.locator("svg.spark polyline").getAttribute("points")).toMatch(/^(\S+,\S+ ){4}\S+,\S+$/);

      // The Redis console: replies rendered as data, and the command policy's refusal with its rule.
      const run = async (command: string) => {
        const before = await page.locator("#redis-output .entry").count();
        await page.fill("#redis-command", command);
        await page.click("#redis-form button[type=submit]");
        await expect.poll(() => page.locator("#redis-output .entry").count()).toBe(before + 1);
        const reply = page.locator("#redis-output .entry").first().locator(".reply");
        await expect.poll(() => reply.textContent(), { timeout: 10_000 }).not.toBe("…");
        return reply;
      };
      expect(await (await run('SET page:greeting "hello world"')).locator(".str").first().textContent()).toBe('"OK"');
      expect(await (await run("GET page:greeting")).locator(".str").first().textContent()).toBe('"hello world"');
      await run("DEL page:list");
      expect(await (await run("RPUSH page:list a b c")).locator(".int").textContent()).toBe("(integer) 3");
      const list = await run("LRANGE page:list 0 -1");
      expect(await list.locator("ol.arr > li").allTextContents()).toEqual(['"a"', '"b"', '"c"']);
      await run("HSET page:hash field1 one field2 two");
      const hash = await run("HGETALL page:hash");
      expect(await hash.locator("table.map tr, ol.arr > li").count()).toBeGreaterThanOrEqual(2);
      expect(await hash.textContent()).toContain("field1");
      expect(await (await run("GET page:nothing")).locator(".nil").textContent()).toBe("(nil)");
      expect(await (await run("FLUSHALL")).textContent()).toMatch(
        /^403 ECOMMAND_DENIED: FLUSHALL is refused .*\(-@dangerous\)$/,
      );
      expect(await (await run("CONFIG SET maxmemory 1")).textContent()).toMatch(/^403 ECOMMAND_DENIED/);

      // MQTT: subscribe (a live stream), publish, see the message arrive.
      await page.fill("#subscribe-form input[name=filter]", "page/#");
      await page.click("#subscribe-button");
      await expect
        .poll(() => page.locator("#subscribe-status").textContent(), { timeout: 10_000 })
        .toMatch(/^subscribed to page\/#/);
      for (const text of ["hello from the page", "and a second one"]) {
        await page.fill("#publish-form input[name=topic]", "page/greetings");
        await page.fill("#publish-form input[name=payload]", text);
        await page.click("#publish-form button[type=submit]");
        await expect
          .poll(() => page.locator("#publish-status").textContent(), { timeout: 10_000 })
          .toMatch(/^published to page\/greetings/);
      }
      const messages = page.locator("#mqtt-messages li.message");
      await expect.poll(() => messages.count(), { timeout: 10_000 }).toBe(2);
      expect(await messages.first().textContent()).toMatch(/page\/greetings and a second one$/);
      expect(await messages.nth(1).textContent()).toMatch(/page\/greetings hello from the page$/);

      mkdirSync(join(root, ".reports"), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

      await page.click("#subscribe-button");
      await expect.poll(() => page.locator("#subscribe-status").textContent()).toBe("stopped");
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      if (demo.exitCode === null) demo.kill("SIGTERM");
      await exited;
    }
  });

  it("asks for the token a gateway needs, and refuses what the policy refuses", async () => {
    const { path } = await findChromium();
    const gateway = await serveGateway({
      port: 0,
      token: "page-token",
      log: false,
      allow: [{ host: "127.0.0.1", ports: redis.shared.port, protocol: "redis", name: "shared Redis" }],
    });
    const browser = await chromium.launch({ executablePath: path, args: CHROMIUM_ARGS });
    try {
      const page: Page = await browser.newPage();
      await page.goto(`${gateway.url}/`);
      await expect
        .poll(() => page.locator("#auth-status").textContent(), { timeout: 10_000 })
        .toBe("this gateway needs a token");
      expect(await page.locator("#dest-rows").textContent()).toMatch(/^401 EUNAUTHORIZED/);
      await page.fill("#auth input[name=token]", "page-token");
      await page.click("#auth button[type=submit]");
      const row = page.locator("#dest-rows tr.dest");
      await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
      await row.locator("button.probe").click();
      await expect.poll(() => row.locator(".result").textContent(), { timeout: 10_000 }).toMatch(/^ok .*PONG/);
      // Another destination, by hand: a metadata address is refused.
      await page.click("#destinations summary");
      await page.fill("#probe input[name=host]", "169.254.169.254");
      await page.click("#probe button[type=submit]");
      const refused = page.locator("#history tr").first();
      await expect
        .poll(() => refused.locator("td").nth(2).textContent(), { timeout: 10_000 })
        .toMatch(/^403 EDESTINATION_DENIED/);
    } finally {
      await browser.close();
      await gateway.close();
    }
  });
});
