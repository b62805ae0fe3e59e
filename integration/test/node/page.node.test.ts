// The gateway's page at `/`, driven in headless Chromium through playwright-core: CHROMIUM_PATH's, else the
// system's, else the one inside the npm package @sparticuz/chromium (what a fresh machine gets).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { chromium } from "playwright-core";
import { serveGateway } from "@sockkit/cli";
import { CHROMIUM_ARGS, findChromium } from "../../harness/node/browser.js";

const redis = inject("redis");

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

describe("the gateway's probe page in headless Chromium", () => {
  it("runs a probe, shows the result and latency, and shows a refusal", async () => {
    const { path } = await findChromium();
    const gateway = await serveGateway({ port: 0, allow: [{ host: "127.0.0.1", ports: redis.shared.port }] });
    const browser = await chromium.launch({ executablePath: path, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(`${gateway.url}/`);
      await expect(page.title()).resolves.toBe("sockkit gateway");
      await page.selectOption("select[name=kind]", "redis");
      await page.fill("input[name=host]", "127.0.0.1");
      await page.fill("input[name=port]", String(redis.shared.port));
      await page.click("button[type=submit]");
      const first = page.locator("#history tr").first();
      await expect.poll(() => first.locator("td").nth(2).textContent(), { timeout: 10_000 }).toMatch(/^ok .*PONG/);
      expect(await first.locator("td").nth(3).textContent()).toMatch(/^\d+ ms$/);

      await page.fill("input[name=host]", "169.254.169.254");
      await page.fill("input[name=port]", "");
      await page.click("button[type=submit]");
      const refused = page.locator("#history tr").first();
      await expect
        .poll(() => refused.locator("td").nth(2).textContent(), { timeout: 10_000 })
        .toMatch(/^403 EDESTINATION_DENIED/);
      expect(await page.locator("#history tr").count()).toBe(2);
    } finally {
      await browser.close();
      await gateway.close();
    }
  });
});
