// nats-server with its MQTT listener (MQTT 3.1.1, QoS 0 and 1; it needs JetStream), started on free
// ports with a store of its own in a temp folder: the third broker implementation of the MQTT suites.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnListening, type ListeningProcess } from "./processes.js";

const HOW_TO =
  "The MQTT suites need the nats-server binary, 2.2 or newer, for its MQTT listener (Debian/Ubuntu: apt-get install -y nats-server; macOS: brew install nats-server).";

/**
 * nats-server on free ports. `stop()` ends it (SIGTERM: its store is kept) and `start()` starts it
 * again on the same ports with the same store, for the restart tests.
 */
export async function startNatsMqtt(): Promise<{
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}> {
  if (spawnSync("nats-server", ["--version"], { stdio: "ignore" }).error) throw new Error(HOW_TO);
  const [clientPort, port] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "sockkit-nats-"));
  const config = join(dir, "nats.conf");
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${clientPort}`,
      // JetStream, which the MQTT listener keeps its sessions and retained messages in, needs a name.
      "server_name: sockkit-test",
      `jetstream { store_dir: ${JSON.stringify(join(dir, "store"))} }`,
      // A QoS 1 message a lost subscriber connection left unacknowledged is sent again only after
      // ack_wait (30 s by default), not at the reconnection as MQTT-4.4.0-1 has it: 1 s here.
      `mqtt { listen: 127.0.0.1:${port}, ack_wait: "1s" }`,
    ].join("\n") + "\n",
  );
  let server: ListeningProcess | undefined = await spawnListening("nats-server", ["-c", config], port).catch(
    (error: Error) => {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${error.message} ${HOW_TO}`);
    },
  );
  const stop = async () => {
    await server?.stop("SIGTERM");
    server = undefined;
  };
  return {
    port,
    stop,
    async start() {
      server ??= await spawnListening("nats-server", ["-c", config], port);
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
