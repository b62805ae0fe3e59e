// Brokers the MQTT suites may drop, stop and restart (never the shared ones), driven through a
// control port (control-server.ts) so that workerd tests can drive them too:
//   drop           cut every client connection (the broker lives on)
//   stop / start   stop listening (cutting every connection) / listen again on the same port
//   restart MS     stop, wait MS milliseconds, start
// Aedes keeps its sessions in memory, so "stop" closes its listener, not the broker object.
// Mosquitto is stopped with SIGTERM (it saves its persistence file) and started again.
import { type ListeningProcess } from "./processes.js";
import { serveControl } from "./control-server.js";
import { startAedes, startMosquitto } from "./mqtt.js";

export interface MqttVictim {
  port: number;
  control: number;
}

interface Breakable {
  port: number;
  drop(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startAedesVictim(): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  return serveBreakable(await startAedes());
}

export async function startMosquittoVictim(): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  const first = await startMosquitto();
  let running: { process: ListeningProcess["process"]; close(options?: { keepData?: boolean }): Promise<void> } | undefined = first;
  const stop = async () => {
    // SIGTERM: Mosquitto writes its persistence file on the way out.
    if (running) await running.close({ keepData: true });
    running = undefined;
  };
  return serveBreakable({
    port: first.port,
    drop: async () => {
      throw new Error("Mosquitto cannot drop connections and live on: use restart");
    },
    stop,
    start: async () => {
      running ??= await startMosquitto({ port: first.port, dir: first.dir });
    },
    close: async () => {
      await stop();
      await first.close();
    },
  });
}

async function serveBreakable(target: Breakable): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  const control = await serveControl(async (command, arg) => {
    if (command === "drop") await target.drop();
    else if (command === "stop") await target.stop();
    else if (command === "start") await target.start();
    else if (command === "restart") {
      await target.stop();
      await new Promise((resolve) => setTimeout(resolve, Number(arg ?? 0)));
      await target.start();
    } else throw new Error(`unknown command ${command}`);
  });
  return {
    victim: { port: target.port, control: control.port },
    async close() {
      await control.close();
      await target.close();
    },
  };
}
