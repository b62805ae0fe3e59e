// MQTT brokers for the suites: Aedes in-process (MQTT 3.1.1) and a Mosquitto
// started here on a free port (3.1.1 and 5.0). No broker → the suite fails
// and says how to get one.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTestCerts } from "./certs.js";
import { startFakeServers } from "./fake-servers.js";
import { freePort, spawnListening } from "./processes.js";

export interface MqttTestEnv {
  /** Aedes 1.x in the harness process: MQTT 3.1.1 only. */
  aedes: number;
  /** Mosquitto: MQTT 3.1.1 and 5.0. */
  mosquitto: number;
  /** nats-server's MQTT listener: MQTT 3.1.1, QoS 0 and 1 (see nats.ts). */
  nats: number;
  /** Mosquitto with `max_qos 1` and `retain_available false`, which an MQTT 5 CONNACK announces. */
  mosquittoLimited: number;
  /** Mosquitto speaking MQTT over TLS only (mqtts://), with a certificate for localhost and 127.0.0.1 from `caCert`. */
  mosquittoTls: { port: number; caCert: string };
  /** Mosquitto that refuses anonymous clients, and its one account. */
  mosquittoWithPassword: { port: number; username: string; password: string };
  /** Fake brokers: each accepts CONNECT, answers CONNACK (MQTT 3.1.1), then misbehaves. */
  fakes: { silent: number; garbage: number; huge: number; stalled: number };
  /** Brokers the suites may break (see mqtt-victims.ts): `port` for clients, `control` to drop, stop, start or restart them. */
  victims: {
    aedes: { port: number; control: number };
    mosquitto: { port: number; control: number };
    nats: { port: number; control: number };
  };
  /** The scripted broker of mqtt-session-fake.ts: `control` answers "log <clientId>". */
  sessionFake: { port: number; control: number };
  /** MQTT 5 broker whose CONNACK limits change between connections (mqtt-limits-fake.ts). */
  limitsFake: { port: number; control: number };
}

const HOW_TO =
  "The MQTT suites need the mosquitto binary (Debian/Ubuntu: apt-get install -y mosquitto; macOS: brew install mosquitto).";

/**
 * Aedes in this process on a free port. Its listener can be stopped and started again on the same
 * port while the broker object, and the sessions it keeps in memory, live on.
 */
export async function startAedes(): Promise<{
  port: number;
  drop(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}> {
  const { Aedes } = (await import("aedes")) as unknown as {
    Aedes: { createBroker(): Promise<{ handle: (socket: net.Socket) => void; close(cb: () => void): void }> };
  };
  const broker = await Aedes.createBroker();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const start = async () => {
    if (server) return;
    const next = net.createServer((socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      next.once("error", reject);
      next.listen(port, "127.0.0.1", resolve);
    });
    server = next;
    port = (next.address() as net.AddressInfo).port;
  };
  const drop = async () => {
    for (const socket of sockets) socket.destroy();
  };
  const stop = async () => {
    const current = server;
    server = undefined;
    await drop();
    if (current) await new Promise((resolve) => current.close(resolve));
  };
  await start();
  return {
    port,
    drop,
    stop,
    start,
    async close() {
      await stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/**
 * Mosquitto on a free port (or `port`), persisting to a new directory (or
 * `dir`, to start again with what an earlier instance saved).
 */
export async function startMosquitto(reuse: { port?: number; dir?: string; config?: readonly string[] } = {}): Promise<{
  port: number;
  dir: string;
  process: ChildProcess;
  close(options?: { keepData?: boolean }): Promise<void>;
}> {
  if (spawnSync("mosquitto", ["-h"], { stdio: "ignore" }).error) throw new Error(HOW_TO);
  const port = reuse.port ?? (await freePort());
  const dir = reuse.dir ?? mkdtempSync(join(tmpdir(), "sockkit-mosquitto-"));
  const config = join(dir, "mosquitto.conf");
  const lines = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence true",
    `persistence_location ${dir}/`,
    "max_keepalive 65535",
    // Debian's Mosquitto 2.0.11 stops releasing queued QoS 1/2 messages to a subscriber once its
    // 20-message in-flight window has been full (MQTT.js to MQTT.js shows the same): no window.
    "max_inflight_messages 0",
    // Its default drops messages past 1,000 queued for one client (silently, for QoS 1/2 too): the
    // restart tests queue more than that for a subscriber that is itself reconnecting.
    "max_queued_messages 0",
    // Run as root (CI containers), Mosquitto drops to user "mosquitto" unless told otherwise.
    ...(process.getuid?.() === 0 ? ["user root"] : []),
    ...(reuse.config ?? []),
  ];
  writeFileSync(config, `${lines.join("\n")}\n`);
  const server = await spawnListening("mosquitto", ["-c", config], port).catch((error: Error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    port,
    dir,
    process: server.process,
    async close({ keepData = false } = {}) {
      await server.stop("SIGTERM");
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The account of {@link startMosquittoWithPassword}. */
export const MQTT_ACCOUNT = { username: "sockkit", password: "s3cret-\u00e9" } as const;

/** Mosquitto that refuses anonymous clients and knows one account, made with `mosquitto_passwd`. */
export async function startMosquittoWithPassword(): Promise<{ port: number; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "sockkit-mosquitto-passwd-"));
  const file = join(dir, "passwords");
  const made = spawnSync("mosquitto_passwd", ["-b", "-c", file, MQTT_ACCOUNT.username, MQTT_ACCOUNT.password], {
    encoding: "utf8",
  });
  if (made.error || made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `mosquitto_passwd failed (${made.error?.message ?? (made.stderr.trim() || `exit status ${made.status}`)}). ${HOW_TO}`,
    );
  }
  // Mosquitto's folder is this one, so the password file goes with it (on close, or a failed start).
  // Later lines win: anonymous clients are refused.
  const broker = await startMosquitto({ dir, config: ["allow_anonymous false", `password_file ${file}`] });
  return { port: broker.port, close: () => broker.close() };
}

/** Mosquitto whose one listener is TLS, with the certificate the socket suites' TLS servers use (test CA). */
export async function startMosquittoTls(): Promise<{ port: number; caCert: string; close(): Promise<void> }> {
  const certs = ensureTestCerts();
  const dir = mkdtempSync(join(tmpdir(), "sockkit-mosquitto-tls-"));
  writeFileSync(join(dir, "server.crt"), certs.localhostCert);
  writeFileSync(join(dir, "server.key"), certs.localhostKey);
  // The certificate lines follow the listener line startMosquitto writes first, so they configure it.
  const broker = await startMosquitto({
    dir,
    config: [`certfile ${join(dir, "server.crt")}`, `keyfile ${join(dir, "server.key")}`],
  });
  return { port: broker.port, caCert: certs.caCert, close: () => broker.close() };
}

/** Fake brokers for fault tests: CONNACK, then silence, garbage, a 200 MB packet header, or no more reading. */
export function startMqttFakes(): Promise<{ ports: MqttTestEnv["fakes"]; close(): Promise<void> }> {
  const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
  const after: Record<keyof MqttTestEnv["fakes"], Buffer | undefined> = {
    silent: undefined,
    garbage: Buffer.from([0x00, 0x00]), // packet type 0 does not exist
    huge: Buffer.from([0x30, 0x80, 0x80, 0x80, 0x60]), // a PUBLISH declaring ~200 MB
    stalled: undefined, // and stops reading: the client's writes back up
  };
  const handlers = {} as Record<keyof MqttTestEnv["fakes"], (socket: net.Socket) => void>;
  for (const [name, tail] of Object.entries(after) as Array<[keyof MqttTestEnv["fakes"], Buffer | undefined]>) {
    handlers[name] = (socket) =>
      socket.once("data", () => {
        socket.write(CONNACK);
        if (name === "stalled") socket.pause();
        if (tail) setTimeout(() => socket.write(tail), 20);
      });
  }
  return startFakeServers(handlers);
}
