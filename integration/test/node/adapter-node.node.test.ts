// Node-only behaviour of @sockkit/adapter-node: the settings workerd has no equivalent for.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { connect, createConnect } from "@sockkit/adapter-node";
import { isSockkitError } from "@sockkit/core";
import { controlCommand } from "../../harness/shared/control-client.js";
import { utf8DecoderConformance } from "../../suites/utf8-decoder-conformance.js";

const env = inject("sockets");

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; reason?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

it("runs on the Node major version the test command asked for", () => {
  const expected = process.env.SOCKKIT_EXPECT_NODE_MAJOR;
  expect(expected, "run through `npm test`, which sets SOCKKIT_EXPECT_NODE_MAJOR").toBeDefined();
  expect(process.versions.node.split(".")[0]).toBe(expected);
});

describe("createConnect({ edgeRules: true })", () => {
  const edge = createConnect({ edgeRules: true });

  it.each([
    [{ hostname: "127.0.0.1", port: env.echo }, /loopback/],
    [{ hostname: "localhost", port: env.echo }, /loopback/],
    [{ hostname: "[::1]", port: env.echo6 }, /loopback/],
    [{ hostname: "[::ffff:127.0.0.1]", port: env.echo }, /loopback/],
    [{ hostname: "10.1.2.3", port: 80 }, /private/],
    [{ hostname: "169.254.169.254", port: 80 }, /linkLocal/],
    [{ hostname: "example.com", port: 25 }, /port 25/],
  ])("refuses %j before any connection, with EDESTINATION_DENIED", async (address, reason) => {
    const socket = edge(address);
    const error = await failure(socket.opened);
    expect(isSockkitError(error, "EDESTINATION_DENIED")).toBe(true);
    expect(error.reason).toMatch(reason);
    expect(isSockkitError(await failure(socket.closed), "EDESTINATION_DENIED")).toBe(true);
    await socket.close();
  });

  it("is off by default: local development reaches 127.0.0.1", async () => {
    const socket = connect({ hostname: "127.0.0.1", port: env.echo });
    expect((await socket.opened).remoteAddress).toBe(`127.0.0.1:${env.echo}`);
    await socket.close();
  });

  it("is off by default for port 25 too: the port is dialled", async () => {
    // Whether something listens on this machine's port 25 or not, a dial happened: it opened,
    // or the kernel refused it (Node's ECONNREFUSED as the cause), never EDESTINATION_DENIED.
    const socket = connect({ hostname: "127.0.0.1", port: 25 });
    try {
      await socket.opened;
    } catch (error) {
      expect(isSockkitError(error, "ECONNECT"), String(error)).toBe(true);
      expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    } finally {
      await socket.close().catch(() => {});
    }
  });
});

describe("errors carry sockkit codes", () => {
  it("a refused connection rejects with ECONNECT, keeping Node's error as cause", async () => {
    const error = await failure(connect({ hostname: "127.0.0.1", port: env.refused }).opened);
    expect(isSockkitError(error, "ECONNECT")).toBe(true);
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
  });

  it("a certificate for another name rejects with ETLS", async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const error = await failure(
      tls({ hostname: "localhost", port: env.tlsWrongHost }, { secureTransport: "on" }).opened,
    );
    expect(isSockkitError(error, "ETLS")).toBe(true);
    expect(error.message).toMatch(/localhost/);
  });

  it("an untrusted certificate rejects with ETLS, and the default connect does not trust the test CA", async () => {
    const error = await failure(connect({ hostname: "localhost", port: env.tls }, { secureTransport: "on" }).opened);
    expect(isSockkitError(error, "ETLS")).toBe(true);
  });
});

describe("failure paths close everything", () => {
  it("TLS options Node rejects fail opened instead of crashing the process", async () => {
    const bad = createConnect({ tls: { minVersion: "bogus" as never } });
    const socket = bad({ hostname: "localhost", port: env.tls }, { secureTransport: "on" });
    expect(await failure(socket.opened)).toBeInstanceOf(Error);
    await socket.close();
  });

  it("abort() with bytes still held by Node drops the connection: the caller's reused buffer never reaches the peer", async () => {
    const control = (command: string) => controlCommand(connect, env.control, command);
    const socket = connect({ hostname: "127.0.0.1", port: env.sink });
    await socket.opened;
    const writer = socket.writable.getWriter();
    const buffer = new Uint8Array(32 * 1024 * 1024).fill(0x41);
    const write = writer.write(buffer).then(
      () => "written",
      () => "rejected",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await writer.abort(new Error("give up"));
    expect(await write).toBe("rejected");
    buffer.fill(0x5a); // the caller reuses its buffer, as encoders do
    const before = (await control("stats")).sinkReceived;
    await control("drain");
    await socket.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = (await control("stats")).sinkReceived;
    expect(after.z - before.z).toBe(0);
    expect(after.bytes - before.bytes).toBeLessThan(buffer.length);
  });
});

describe("plain TCP reads into a buffer the adapter sizes", () => {
  // Every chunk is kept until the end and only then checked: a read buffer reused while a
  // chunk still points into it would show up as wrong bytes here.
  it("a bulk download arrives in chunks larger than Node's 64 KiB, none sharing memory with a later read", async () => {
    const socket = connect({ hostname: "127.0.0.1", port: env.big });
    const chunks: Uint8Array[] = [];
    for await (const chunk of socket.readable) chunks.push(chunk);
    await socket.close();
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(env.bigSize);
    expect(Math.max(...chunks.map((c) => c.length))).toBeGreaterThan(64 * 1024);
    // Each chunk's ArrayBuffer is exactly its bytes, as Node's own chunks are.
    expect(chunks.filter((c) => c.byteOffset !== 0 || c.buffer.byteLength !== c.length)).toEqual([]);
    let i = 0;
    let wrong = 0;
    for (const chunk of chunks) for (const byte of chunk) if (byte !== i++ % 251) wrong++;
    expect(wrong).toBe(0);
  });

  it("small reads are copied out: 2,000 echoed pieces, all kept, all intact", async () => {
    const socket = connect({ hostname: "127.0.0.1", port: env.echo });
    const writer = socket.writable.getWriter();
    const reader = socket.readable.getReader();
    const chunks: Uint8Array[] = [];
    for (let k = 0; k < 2000; k++) {
      const piece = new TextEncoder().encode(`piece ${k};`);
      await writer.write(piece);
      for (let got = 0; got < piece.length;) {
        const { value } = await reader.read();
        chunks.push(value!);
        got += value!.length;
      }
    }
    writer.releaseLock();
    reader.releaseLock();
    await socket.close();
    const text = Buffer.concat(chunks).toString();
    expect(text).toBe(Array.from({ length: 2000 }, (_, k) => `piece ${k};`).join(""));
    // A copied chunk owns exactly its bytes, not the 16 KiB read buffer.
    expect(chunks.filter((c) => c.byteOffset !== 0 || c.buffer.byteLength !== c.length)).toEqual([]);
  });
});

utf8DecoderConformance({ runtime: "node", connect, customConnect: createConnect({ edgeRules: true }) });

describe("Node-only conveniences", () => {
  it("opened also reports the local address", async () => {
    const socket = connect({ hostname: "127.0.0.1", port: env.echo });
    expect((await socket.opened).localAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    await socket.close();
  });

  it("close() while still connecting settles at once (workerd can take ~20 s)", async () => {
    const socket = connect({ hostname: "localhost", port: env.echo });
    const t0 = Date.now();
    await socket.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(isSockkitError(await failure(socket.opened), "ECONNECT")).toBe(true);
  });

  it("a ca given to createConnect verifies the test server by name", async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const socket = tls({ hostname: "localhost", port: env.tls }, { secureTransport: "on" });
    expect(socket.secureTransport).toBe("on");
    await socket.opened;
    await socket.close();
  });

  it("honours NODE_EXTRA_CA_CERTS with the default connect", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockkit-extra-ca-"));
    try {
      const caFile = join(dir, "ca.pem");
      writeFileSync(caFile, env.caCert);
      const script = `
        import { connect } from "@sockkit/adapter-node";
        const s = connect({ hostname: "localhost", port: ${env.tls} }, { secureTransport: "on" });
        await s.opened;
        await s.close();
        console.log("verified");`;
      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
        timeout: 15_000,
      });
      expect(stdout.trim()).toBe("verified");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
