import { execFile } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const env = inject("sockets");
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const cwd = fileURLToPath(new URL("../..", import.meta.url));

async function node(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd, timeout: 20_000 });
  return stdout.trim();
}

describe("node --import @sockkit/adapter-node/register", () => {
  it("resolves a static import of cloudflare:sockets to the emulation", async () => {
    const out = await node([
      "--import",
      "@sockkit/adapter-node/register",
      fixture("echo-static.mjs"),
      String(env.echo),
    ]);
    expect(JSON.parse(out)).toEqual({ text: "static", secureTransport: "off" });
  });

  it("resolves import() and require() too", async () => {
    const out = await node([
      "--import",
      "@sockkit/adapter-node/register",
      fixture("echo-dynamic-and-require.mjs"),
      String(env.echo),
    ]);
    expect(JSON.parse(out)).toEqual(["import()", "require()"]);
  });

  it("serves a CommonJS entry point that requires cloudflare:sockets", async () => {
    const out = await node([
      "--import",
      "@sockkit/adapter-node/register",
      fixture("echo-commonjs.cjs"),
      String(env.echo),
    ]);
    expect(JSON.parse(out)).toBe("cjs");
  });

  it('runs redis-on-workers, unmodified: its import("cloudflare:sockets") gets the emulation', async () => {
    const { shared } = inject("redis");
    const args = [fixture("redis-on-workers.mjs"), shared.hostname, String(shared.port), shared.password ?? ""];
    const out = await node(["--import", "@sockkit/adapter-node/register", ...args]);
    // It closes quietly only because the emulation does as workerd: its read loop races `closed`
    // against `read()` and `closed` resolves first, and its cancel() after close() resolves (on
    // either count Node would exit 1 with an unhandled rejection).
    expect(JSON.parse(out)).toEqual({ value: "from redis-on-workers", emulated: true });
    // Without the hook its import fails and it falls back to another socket library.
    const fallback = await node(args);
    expect(JSON.parse(fallback)).toEqual({ value: "from redis-on-workers", emulated: false });
  });

  it("is what makes it work: without it Node cannot load cloudflare:sockets", async () => {
    await expect(node([fixture("echo-static.mjs"), String(env.echo)])).rejects.toThrow(
      /cloudflare:|ERR_UNSUPPORTED_ESM_URL_SCHEME/,
    );
  });
});

describe("node --import @sockkit/adapter-node/register-workerd (packages' workerd builds)", () => {
  it("runs pg-cloudflare's Workers socket, unmodified, over the emulation", async () => {
    const out = await node([
      "--import",
      "@sockkit/adapter-node/register-workerd",
      fixture("pg-cloudflare.mjs"),
      String(env.echo),
    ]);
    expect(JSON.parse(out)).toEqual({ text: "from pg-cloudflare" });
  });

  it("@sockkit/adapter-workers' connect keeps the emulation's native UTF-8 decoder", async () => {
    const out = await node([
      "--import",
      "@sockkit/adapter-node/register-workerd",
      fixture("adapter-workers-decoder.mjs"),
    ]);
    expect(JSON.parse(out)).toEqual({ native: true, text: "\uFEFFa reply longer than sixteen bytes" });
  });

  it("without the workerd variant, pg-cloudflare loads its empty build", async () => {
    const out = await node([
      "--import",
      "@sockkit/adapter-node/register",
      fixture("pg-cloudflare.mjs"),
      String(env.echo),
    ]);
    expect(JSON.parse(out).error).toMatch(/non-workerd/);
  });

  it("runs postgres.js' Cloudflare build, which speaks the wire protocol over the emulation", async () => {
    // A tiny server that answers the startup message with a Postgres ErrorResponse:
    // the client can only report this text if it connected and spoke the protocol.
    const server = net.createServer((socket) => {
      socket.once("data", () => {
        const fields = Buffer.from("SFATAL\0C28000\0Mhello from the fake server\0\0");
        const header = Buffer.alloc(5);
        header.write("E", 0);
        header.writeInt32BE(fields.length + 4, 1);
        socket.end(Buffer.concat([header, fields]));
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      // postgres.js' Cloudflare build leaves its read loop's rejection unhandled when the socket is
      // closed under it (porsager/postgres#1202: in workerd, "Stream was cancelled." on every
      // sql.end()), and the emulation closes in workerd's order, so it happens here too. workerd
      // logs unhandled rejections, Node's default makes them fatal: this runs with workerd's policy.
      const { stdout } = await run(
        process.execPath,
        [
          "--unhandled-rejections=warn",
          "--import",
          "@sockkit/adapter-node/register-workerd",
          fixture("postgres-workers.mjs"),
          String(port),
        ],
        { cwd, timeout: 20_000 },
      );
      const out = JSON.parse(stdout.trim());
      expect(out.resolved).toMatch(/postgres\/cf\/src\/index\.js$/);
      expect(out.error).toBe("hello from the fake server");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
