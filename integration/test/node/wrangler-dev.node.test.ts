// examples/gateway-worker as a developer runs it: `wrangler dev` (workerd behind wrangler's
// local proxy), configured with --var like vars and secrets, driven over HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../harness/node/processes.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");
const redis = inject("redis");
const mqtt = inject("mqtt");

let child: ChildProcess | undefined;
let base = "";
let output = "";
const state = mkdtempSync(join(tmpdir(), "sockkit-wrangler-"));

beforeAll(async () => {
  const [port, inspector] = [await freePort(), await freePort()];
  const allow = JSON.stringify([{ host: "127.0.0.1", ports: [redis.shared.port, mqtt.aedes] }]);
  child = spawn(
    process.execPath,
    [
      wrangler,
      "dev",
      "--config",
      join(root, "examples/gateway-worker/wrangler.jsonc"),
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      state,
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
      "--var",
      `ALLOW:${allow}`,
      "--var",
      "TOKEN:s3cret",
    ],
    // Its own process group, so the workerd it starts dies with it.
    {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
    },
  );
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer within 45 s:\n${output}`);
    const ok = await fetch(`${base}/`).then(
      (r) => (r.body?.cancel(), r.ok),
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    process.kill(-child.pid!, "SIGTERM");
    const forced = setTimeout(() => process.kill(-child!.pid!, "SIGKILL"), 5000);
    await exited;
    clearTimeout(forced);
  }
  rmSync(state, { recursive: true, force: true });
});

const call = (path: string, init: RequestInit = {}, token = "s3cret") =>
  fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
  });

describe("examples/gateway-worker under `wrangler dev`", () => {
  it("serves the page, probes Redis and MQTT named in ALLOW, runs a command and publishes", async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain("<form");
    expect(await (await call(`/probe/redis?host=127.0.0.1&port=${redis.shared.port}`)).json()).toMatchObject({
      ok: true,
      detail: { reply: "PONG" },
    });
    expect(await (await call(`/probe/mqtt?host=127.0.0.1&port=${mqtt.aedes}`)).json()).toMatchObject({ ok: true });
    const json = { "content-type": "application/json" };
    const reply = await call("/redis", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ host: "127.0.0.1", port: redis.shared.port, command: ["ECHO", "from wrangler dev"] }),
    });
    expect(await reply.json()).toMatchObject({ ok: true, reply: "from wrangler dev" });
    const published = await call("/mqtt/publish", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ host: "127.0.0.1", port: mqtt.aedes, topic: "sockkit/wrangler", payload: "hi", qos: 1 }),
    });
    expect(await published.json()).toMatchObject({ ok: true });
  });

  it("GET /metrics in the Prometheus text format, x-request-id echoed, FLUSHALL refused", async () => {
    const probe = await call(`/probe/redis?host=127.0.0.1&port=${redis.shared.port}`, {
      headers: { "x-request-id": "wrangler-dev-1" },
    });
    expect(probe.headers.get("x-request-id")).toBe("wrangler-dev-1");
    await probe.arrayBuffer();
    const flush = await call("/redis", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ host: "127.0.0.1", port: redis.shared.port, command: ["FLUSHALL"] }),
    });
    expect(await flush.json()).toMatchObject({ error: { code: "ECOMMAND_DENIED", reason: "-@dangerous" } });
    const metrics = await call("/metrics");
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toMatch(
      /^sockkit_gateway_requests_total\{route="\/probe\/redis",method="GET",status="200"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^sockkit_gateway_denials_total\{reason="command"\} [1-9]\d*$/m);
  });

  it("refuses a wrong token (401), a destination outside ALLOW and a metadata address (403)", async () => {
    const wrong = await call(`/probe/redis?host=127.0.0.1&port=${redis.shared.port}`, {}, "wrong");
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();
    for (const host of ["127.0.0.1&port=1", "169.254.169.254&port=6379", "0xa9fea9fe&port=6379"]) {
      const denied = await call(`/probe/tcp?host=${host}`);
      expect(denied.status, host).toBe(403);
      expect(await denied.json()).toMatchObject({ error: { code: "EDESTINATION_DENIED" } });
    }
  });
});
