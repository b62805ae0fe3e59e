import { connect } from "cloudflare:sockets";
import * as pgCloudflare from "pg-cloudflare";
import { describe, expect, inject, it } from "vitest";

const env = inject("sockets");

describe("@sockkit/adapter-node/vitest", () => {
  it("resolves cloudflare:sockets in a test file to the emulation", async () => {
    const socket = connect({ hostname: "127.0.0.1", port: env.echo });
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode("from a test file"));
    await writer.close();
    let text = "";
    for await (const chunk of socket.readable) text += new TextDecoder().decode(chunk);
    await socket.close();
    expect(text).toBe("from a test file");
    expect(typeof process.versions.node).toBe("string"); // this really is Node
  });

  it("reaches cloudflare:sockets imported inside a dependency (pg-cloudflare's workerd build)", async () => {
    const { CloudflareSocket } = pgCloudflare as {
      CloudflareSocket?: new (ssl: boolean) => import("node:events").EventEmitter & Record<string, any>;
    };
    expect(typeof CloudflareSocket).toBe("function");
    const socket = new CloudflareSocket!(false);
    const text = await new Promise<string>((resolve, reject) => {
      let got = "";
      socket.on("data", (chunk: Buffer) => {
        got += chunk.toString();
        if (got === "via dependency") socket.end();
      });
      socket.on("close", () => resolve(got));
      socket.on("error", (error: unknown) => {
        if (got !== "via dependency") reject(error);
      });
      socket.on("connect", () => socket.write("via dependency"));
      void socket.connect(env.echo, "127.0.0.1");
    });
    expect(text).toBe("via dependency");
  });
});
