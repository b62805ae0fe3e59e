import {
  MQTT_ACCOUNT,
  startAedes,
  startMosquitto,
  startMosquittoTls,
  startMosquittoWithPassword,
  startMqttFakes,
  type MqttTestEnv,
} from "./mqtt.js";
import { startMqttLimitsFake } from "./mqtt-limits-fake.js";
import { startMqttSessionFake } from "./mqtt-session-fake.js";
import { startNatsMqtt } from "./nats.js";
import { startAedesVictim, startMosquittoVictim, startNatsVictim } from "./mqtt-victims.js";
import { provideServices, type Running } from "./services.js";

declare module "vitest" {
  export interface ProvidedContext {
    mqtt: MqttTestEnv;
  }
}

/** Starts the brokers in Node (nothing can listen inside workerd). */
export async function startMqttServices(): Promise<Running<MqttTestEnv>> {
  const aedes = await startAedes();
  const mosquitto = await startMosquitto();
  const nats = await startNatsMqtt();
  const mosquittoLimited = await startMosquitto({ config: ["max_qos 1", "retain_available false"] });
  const mosquittoWithPassword = await startMosquittoWithPassword();
  const mosquittoTls = await startMosquittoTls();
  const fakes = await startMqttFakes();
  const aedesVictim = await startAedesVictim();
  const mosquittoVictim = await startMosquittoVictim();
  const natsVictim = await startNatsVictim();
  const sessionFake = await startMqttSessionFake();
  const limitsFake = await startMqttLimitsFake();
  const env: MqttTestEnv = {
    aedes: aedes.port,
    mosquitto: mosquitto.port,
    nats: nats.port,
    mosquittoLimited: mosquittoLimited.port,
    mosquittoWithPassword: { port: mosquittoWithPassword.port, ...MQTT_ACCOUNT },
    mosquittoTls: { port: mosquittoTls.port, caCert: mosquittoTls.caCert },
    fakes: fakes.ports,
    victims: { aedes: aedesVictim.victim, mosquitto: mosquittoVictim.victim, nats: natsVictim.victim },
    sessionFake: { port: sessionFake.port, control: sessionFake.control },
    limitsFake: { port: limitsFake.port, control: limitsFake.control },
  };
  const close = async () => {
    await Promise.all([
      aedes.close(),
      mosquitto.close(),
      nats.close(),
      mosquittoLimited.close(),
      mosquittoWithPassword.close(),
      mosquittoTls.close(),
      fakes.close(),
      aedesVictim.close(),
      mosquittoVictim.close(),
      natsVictim.close(),
      sessionFake.close(),
      limitsFake.close(),
    ]);
  };
  return { env, close };
}

/** Hands the brokers' ports to the tests. */
export default provideServices("mqtt", startMqttServices);
