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
import { settledWithin } from "../../harness/shared/promises.js";

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

  it("a certificate for another name rejects with ETLS, in workerd's words with OpenSSL's reason after them and Node's error as cause", async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const error = await failure(
      tls({ hostname: "localhost", port: env.tlsWrongHost }, { secureTransport: "on" }).opened,
    );
    expect(isSockkitError(error, "ETLS")).toBe(true);
    expect(error.name).toBe("Error");
    expect(String(error)).toMatch(
      new RegExp(
        `^Error: proxy request failed, cannot connect to the specified address \\(localhost:${env.tlsWrongHost}: TLS handshake failed: .*wrong\\.example`,
      ),
    );
    expect((error.cause as NodeJS.ErrnoException).code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("a server that does not speak TLS rejects with ETLS and OpenSSL's short reason, not its whole error line", async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const error = await failure(tls({ hostname: "127.0.0.1", port: env.echo }, { secureTransport: "on" }).opened);
    expect(isSockkitError(error, "ETLS")).toBe(true);
    expect(error.message).toMatch(/TLS handshake failed: [a-z ]+\)$/);
    expect(error.message).not.toMatch(/ssl\/statem|SSL routines/);
  });

  it('a write waiting on a TLS connection that fails rejects with workerd\'s "Network connection lost.", code ETLS, the connect error as cause', async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const socket = tls({ hostname: "localhost", port: env.tlsUntrusted }, { secureTransport: "on" });
    const written = await failure(socket.writable.getWriter().write(new Uint8Array([1])));
    expect(isSockkitError(written, "ETLS")).toBe(true);
    expect(written.message).toBe("Network connection lost.");
    expect(written.cause).toBe(await failure(socket.opened));
    await socket.close();
  });

  it("a certificate refused after startTls() rejects the waiting write with ETLS (workerd's internal error), OpenSSL's reason in cause", async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const plain = tls({ hostname: "localhost", port: env.starttls }, { secureTransport: "starttls" });
    const writer = plain.writable.getWriter();
    await writer.write(new TextEncoder().encode("STARTTLS untrusted\n"));
    const reader = plain.readable.getReader();
    await reader.read();
    reader.releaseLock();
    writer.releaseLock();
    const secure = plain.startTls();
    const written = await failure(secure.writable.getWriter().write(new Uint8Array([1])));
    expect(isSockkitError(written, "ETLS")).toBe(true);
    expect(written.message).toMatch(
      /^internal error; reference = ETLS \(localhost:\d+: TLS handshake failed: self-signed certificate[;)]/,
    );
    expect((written.cause as NodeJS.ErrnoException).code).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
    await secure.close();
  });

  it("a TLS connection lost without close_notify rejects reads with ECLOSED", async () => {
    const tls = createConnect({ tls: { ca: env.caCert } });
    const socket = tls({ hostname: "localhost", port: env.tlsDrop }, { secureTransport: "on" });
    const reader = socket.readable.getReader();
    await reader.read();
    const lost = await failure(reader.read());
    expect(isSockkitError(lost, "ECLOSED")).toBe(true);
    expect(lost.message).toBe("Network connection lost.");
    await socket.close();
  });

  it("@sockkit/adapter-workers over the emulation (register-workerd) keeps ETLS and ECONNECT", async () => {
    const script = `
      import { connect } from "@sockkit/adapter-workers";
      import { isSockkitError } from "@sockkit/core";
      const tls = connect({ hostname: "localhost", port: ${env.tls} }, { secureTransport: "on" });
      const tlsError = await tls.opened.catch((e) => e);
      const refused = await connect({ hostname: "127.0.0.1", port: ${env.refused} }).opened.catch((e) => e);
      console.log(JSON.stringify({
        tls: isSockkitError(tlsError, "ETLS"),
        words: tlsError.message.startsWith("proxy request failed"),
        refused: isSockkitError(refused, "ECONNECT"),
      }));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "@sockkit/adapter-node/register-workerd", "--input-type=module", "-e", script],
      { timeout: 15_000 },
    );
    // The default connect does not trust the test CA: the handshake fails.
    expect(JSON.parse(stdout)).toEqual({ tls: true, words: true, refused: true });
  });

  it("an untrusted certificate rejects with ETLS, and the default connect does not trust the test CA", async () => {
    const error = await failure(connect({ hostname: "localhost", port: env.tls }, { secureTransport: "on" }).opened);
    expect(isSockkitError(error, "ETLS")).toBe(true);
  });
});

describe("createConnect({ edgeRules }) and a TLS handshake that never completes", () => {
  it("close() waits for the handshake, as workerd's does, up to closeWaitMs; then it gives up as without edgeRules", async () => {
    const edge = createConnect({ tls: { ca: env.caCert }, edgeRules: { refuseDestinations: false, closeWaitMs: 700 } });
    const socket = edge({ hostname: "localhost", port: env.tlsStall }, { secureTransport: "on" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const t0 = Date.now();
    const closing = socket.close();
    expect(await settledWithin(closing, 400)).toBe("pending");
    expect(await settledWithin(closing, 2000)).toBeUndefined();
    // Well before the server drops the connection (stallMs): the bound ended the wait.
    expect(Date.now() - t0).toBeLessThan(env.stallMs - 500);
    const error = await failure(socket.opened);
    expect(isSockkitError(error, "ECONNECT")).toBe(true);
    expect(error.message).toBe("socket closed before the connection was established");
  });

  it("edgeRules: true refuses destinations and waits 10 s by default; bad values are refused", () => {
    expect(() => createConnect({ edgeRules: { closeWaitMs: -1 } })).toThrow(TypeError);
    expect(() => createConnect({ edgeRules: { closeWaitMs: Number.NaN } })).toThrow(TypeError);
    expect(() => createConnect({ edgeRules: "yes" as never })).toThrow(TypeError);
  });
});

describe('createConnect({ uncleanTlsClose: "end" }): Node\'s own TLS socket', () => {
  const fast = createConnect({ tls: { ca: env.caCert }, uncleanTlsClose: "end" });

  it("a close without close_notify ends the reader as Node reports it (done), where the default rejects", async () => {
    const reads = async (connectVia: typeof fast) => {
      const socket = connectVia({ hostname: "localhost", port: env.tlsDrop }, { secureTransport: "on" });
      const reader = socket.readable.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      const next = await reader.read().then(
        (result) => result,
        (error: Error) => error.message,
      );
      await socket.close();
      return { first, next };
    };
    expect(await reads(fast)).toEqual({ first: "data", next: { done: true, value: undefined } });
    expect(await reads(createConnect({ tls: { ca: env.caCert } }))).toEqual({
      first: "data",
      next: "Network connection lost.",
    });
  });

  it("still verifies, sends SNI and upgrades as the default does; a reset is still a lost connection", async () => {
    const socket = fast({ hostname: "127.0.0.1", port: env.tls }, { secureTransport: "on" });
    expect((await socket.opened).localAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const token = `fast ${Math.random()}`;
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(token));
    const reader = socket.readable.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(token);
    expect((await controlCommand(connect, env.control)).sni[token]).toBe("127.0.0.1");
    await socket.close();

    const reset = fast({ hostname: "localhost", port: env.tlsReset }, { secureTransport: "on" });
    const resetReader = reset.readable.getReader();
    await resetReader.read();
    expect(isSockkitError(await failure(resetReader.read()), "ECLOSED")).toBe(true);
    await reset.close();

    const untrusted = createConnect({ uncleanTlsClose: "end" })(
      { hostname: "localhost", port: env.tls },
      { secureTransport: "on" },
    );
    expect(isSockkitError(await failure(untrusted.opened), "ETLS")).toBe(true);
    await untrusted.close();
  });

  it("refuses other values", () => {
    expect(() => createConnect({ uncleanTlsClose: "error" as never })).toThrow(TypeError);
  });
});

describe("SNI with an IP literal", () => {
  const dialByIp = async (script: string) => {
    const { stderr } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      timeout: 15_000,
    });
    return stderr;
  };

  it("is sent without Node's DEP0123 warning (Node warns for a plain tls.connect, the control)", async () => {
    const viaEmulation = await dialByIp(`
      import { createConnect } from "@sockkit/adapter-node";
      const connect = createConnect({ tls: { ca: ${JSON.stringify(env.caCert)} } });
      const s = connect({ hostname: "127.0.0.1", port: ${env.tls} }, { secureTransport: "on" });
      await s.opened;
      await s.close();
      process.emitWarning("still heard", { code: "SOCKKIT_CONTROL" });`);
    expect(viaEmulation).toMatch(/SOCKKIT_CONTROL/);
    expect(viaEmulation).not.toMatch(/DEP0123/);
    const direct = await dialByIp(`
      import tls from "node:tls";
      const s = tls.connect({ host: "127.0.0.1", port: ${env.tls}, servername: "127.0.0.1", ca: ${JSON.stringify(env.caCert)} });
      s.once("secureConnect", () => s.destroy());`);
    expect(direct).toMatch(/DEP0123/);
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
