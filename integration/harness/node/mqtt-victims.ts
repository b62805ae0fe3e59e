// Brokers the MQTT suites may drop, stop and restart (never the shared ones), driven through a
// control port (control-server.ts) so that workerd tests can drive them too:
//   drop           cut every client connection (the broker lives on)
//   stop / start   stop listening (cutting every connection) / listen again on the same port
//   start max_qos_1   (Mosquitto) listen again with `max_qos 1`: a broker that came back with
//                     less; the next plain start or restart restores the usual settings
//   restart MS     stop, wait MS milliseconds, start
// Aedes keeps its sessions in memory, so "stop" closes its listener, not the broker object.
// Mosquitto is stopped with SIGTERM (it saves its persistence file) and started again.
import { type ListeningProcess } from "./processes.js";
import { serveControl } from "./control-server.js";
import { startAedes, startMosquitto } from "./mqtt.js";
import { startNatsMqtt } from "./nats.js";

export interface MqttVictim {
  port: number;
  control: number;
}

interface Breakable {
  port: number;
  drop(): Promise<void>;
  stop(): Promise<void>;
  start(setting?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startAedesVictim(): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  const aedes = await startAedes();
  return serveBreakable({
    ...aedes,
    start: async (setting) => {
      if (setting !== undefined) throw new Error(`Aedes has no setting ${setting}`);
      await aedes.start();
    },
  });
}

export async function startMosquittoVictim(): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  const first = await startMosquitto();
  let running:
    { process: ListeningProcess["process"]; close(options?: { keepData?: boolean }): Promise<void> } | undefined =
    first;
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
    start: async (setting) => {
      if (setting !== undefined && setting !== "max_qos_1") throw new Error(`unknown Mosquitto setting ${setting}`);
      if (setting !== undefined && running)
        throw new Error("Mosquitto is running: stop it before starting it with a setting");
      running ??= await startMosquitto({
        port: first.port,
        dir: first.dir,
        ...(setting ? { config: ["max_qos 1"] } : {}),
      });
    },
    close: async () => {
      await stop();
      await first.close();
    },
  });
}

export async function startNatsVictim(): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  const nats = await startNatsMqtt();
  return serveBreakable({
    ...nats,
    drop: async () => {
      throw new Error("nats-server cannot drop connections and live on: use restart");
    },
    start: async (setting) => {
      if (setting !== undefined) throw new Error(`nats-server has no setting ${setting}`);
      await nats.start();
    },
  });
}

async function serveBreakable(target: Breakable): Promise<{ victim: MqttVictim; close(): Promise<void> }> {
  const control = await serveControl(async (command, arg) => {
    if (command === "drop") await target.drop();
    else if (command === "stop") await target.stop();
    else if (command === "start") await target.start(arg);
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
