// The gateway's page at `/`, driven in headless Chromium (Debian's chromium, through playwright-core).
import { existsSync } from "node:fs";
import { describe, expect, inject, it } from "vitest";
import { chromium } from "playwright-core";
import { serveGateway } from "@sockkit/cli";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const redis = inject("redis");

describe("the gateway's probe page in headless Chromium", () => {
  it("runs a probe, shows the result and latency, and shows a refusal", async () => {
    expect(
      existsSync(CHROMIUM),
      `The page test needs Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH).`,
    ).toBe(true);
    const gateway = await serveGateway({ port: 0, allow: [{ host: "127.0.0.1", ports: redis.shared.port }] });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
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
