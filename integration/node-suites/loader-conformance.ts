/**
 * The loaders that let unmodified Workers code run outside workerd: `cloudflare:sockets` resolves to
 * sockkit's connect (@sockkit/adapter-node's emulation on Node, the native adapter on Bun and Deno) in
 * app code and inside dependencies, and `register-workerd` loads packages' Workers builds. Run on Node (`--import`), Bun and Deno (`--preload`); each entry file says how its
 * runtime is started, the tests run third-party Workers code unmodified (fixtures/).
 */
import { execFile } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { SocketTestEnv } from "../harness/node/servers.js";
import type { RedisTestEnv } from "../harness/node/redis-setup.js";
import type { RuntimeName } from "../suites/runtimes.js";

export type Loader = "register" | "register-workerd";

export interface LoaderOptions {
  runtime: RuntimeName;
  /**
   * The command line that runs `script` with `args` on this runtime, under `loader` (none: without
   * any), as the README documents it. `warnOnUnhandledRejections` asks for workerd's policy.
   */
  command(
    loader: Loader | undefined,
    script: string,
    args: string[],
    options?: { warnOnUnhandledRejections?: boolean },
  ): { file: string; args: string[] };
  /**
   * Whether `register-workerd` needs the runtime's `--conditions=workerd` flag too (Bun and Deno:
   * their conditions are fixed at start); without it the loader refuses with the command to use.
   */
  workerdConditionIsAFlag: boolean;
  /**
   * Whether the runtime matches the `bun` export condition, which postgres.js lists before `workerd`:
   * there it loads its Bun build (node:net), not its Workers build.
   */
  matchesBunCondition: boolean;
  sockets: SocketTestEnv;
  redis: RedisTestEnv;
}

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const cwd = fileURLToPath(new URL("..", import.meta.url));

export function loaderConformance(options: LoaderOptions): void {
  const { runtime, sockets, redis } = options;
  const run = async (
    loader: Loader | undefined,
    name: string,
    args: string[],
    extra?: { warnOnUnhandledRejections?: boolean },
  ): Promise<string> => {
    const { file, args: argv } = options.command(loader, fixture(name), args, extra);
    const { stdout } = await promisify(execFile)(file, argv, { cwd, timeout: 20_000 });
    return stdout.trim();
  };
  const echo = String(sockets.echo);

  describe(`the register loader (${runtime})`, () => {
    it("resolves a static import of cloudflare:sockets to sockkit's connect", async () => {
      expect(JSON.parse(await run("register", "echo-static.mjs", [echo]))).toEqual({
        text: "static",
        secureTransport: "off",
      });
    });

    it("resolves import() and require() too", async () => {
      expect(JSON.parse(await run("register", "echo-dynamic-and-require.mjs", [echo]))).toEqual([
        "import()",
        "require()",
      ]);
    });

    it("serves a CommonJS entry point that requires cloudflare:sockets", async () => {
      expect(JSON.parse(await run("register", "echo-commonjs.cjs", [echo]))).toBe("cjs");
    });

    it('runs redis-on-workers, unmodified: its import("cloudflare:sockets") inside the dependency gets our connect', async () => {
      const { shared } = redis;
      const args = [shared.hostname, String(shared.port), shared.password ?? ""];
      // It closes quietly only because sockkit's socket does as workerd: its read loop races `closed`
      // against `read()` and `closed` resolves first, and its cancel() after close() resolves.
      expect(JSON.parse(await run("register", "redis-on-workers.mjs", args))).toEqual({
        value: "from redis-on-workers",
        emulated: true,
      });
      // Without the loader its import fails and it falls back to another socket library.
      expect(JSON.parse(await run(undefined, "redis-on-workers.mjs", args))).toEqual({
        value: "from redis-on-workers",
        emulated: false,
      });
    });

    it("is what makes it work: without it cloudflare:sockets cannot be loaded", async () => {
      await expect(run(undefined, "echo-static.mjs", [echo])).rejects.toThrow(/cloudflare:/);
    });

    it("without the workerd variant, pg-cloudflare loads its empty build", async () => {
      expect(JSON.parse(await run("register", "pg-cloudflare.mjs", [echo])).error).toMatch(/non-workerd/);
    });
  });

  describe(`the register-workerd loader: packages' Workers builds (${runtime})`, () => {
    it("runs pg-cloudflare's Workers socket, unmodified, over sockkit's connect", async () => {
      expect(JSON.parse(await run("register-workerd", "pg-cloudflare.mjs", [echo]))).toEqual({
        text: "from pg-cloudflare",
      });
    });

    it("@sockkit/adapter-workers' connect keeps the runtime's native UTF-8 decoder", async () => {
      expect(JSON.parse(await run("register-workerd", "adapter-workers-decoder.mjs", []))).toEqual({
        native: true,
        text: "\uFEFFa reply longer than sixteen bytes",
      });
    });

    it(
      options.matchesBunCondition
        ? "postgres.js loads its Bun build here (its exports list `bun` before `workerd`), which speaks the wire protocol"
        : "runs postgres.js' Cloudflare build, which speaks the wire protocol over sockkit's connect",
      async () => {
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
          const port = String((server.address() as net.AddressInfo).port);
          // postgres.js' Cloudflare build leaves its read loop's rejection unhandled when the socket is
          // closed under it (porsager/postgres#1202: in workerd, "Stream was cancelled." on every
          // sql.end()), and sockkit's socket closes in workerd's order, so it happens here too. workerd
          // logs unhandled rejections, Node's default makes them fatal: this runs with workerd's policy.
          const out = JSON.parse(
            await run("register-workerd", "postgres-workers.mjs", [port], { warnOnUnhandledRejections: true }),
          );
          expect(out.resolved).toMatch(
            options.matchesBunCondition ? /postgres\/src\/index\.js$/ : /postgres\/cf\/src\/index\.js$/,
          );
          expect(out.error).toBe("hello from the fake server");
        } finally {
          await new Promise((resolve) => server.close(resolve));
        }
      },
    );

    if (options.workerdConditionIsAFlag) {
      it("without the runtime's --conditions=workerd flag, refuses to start and names the command line", async () => {
        const { file, args } = options.command("register-workerd", fixture("pg-cloudflare.mjs"), [echo]);
        const without = args.filter((arg) => arg !== "--conditions=workerd");
        expect(without.length).toBe(args.length - 1);
        const error = await promisify(execFile)(file, without, { cwd, timeout: 20_000 }).then(
          () => undefined,
          (e: { code?: number; stderr?: string }) => e,
        );
        expect(error?.code).not.toBe(0);
        expect(error?.stderr).toMatch(/--conditions=workerd --preload .*@sockkit\/adapter-node\/register-workerd/);
      });
    }
  });
}
