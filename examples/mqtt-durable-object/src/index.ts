// A Durable Object that holds one MQTT connection for a whole deployment: Workers publish through
// it, it keeps the session (reconnecting with backoff), and its unacknowledged QoS 1/2 messages
// live in its storage, so an eviction or a restart loses none.
import { DurableObject } from "cloudflare:workers";
import { connect } from "@sockkit/adapter-workers";
import { createMqttClient, type MqttClient, type QoS } from "@sockkit/core/mqtt";
import { durableObjectStore } from "./store.js";

export interface Env {
  BRIDGE: DurableObjectNamespace<MqttBridge>;
  /** mqtt:// or mqtts:// URL of the broker */
  MQTT_URL: string;
}

export class MqttBridge extends DurableObject<Env> {
  #client: MqttClient | undefined;

  #mqtt(): MqttClient {
    if (this.#client) return this.#client;
    const client = createMqttClient({
      connect,
      url: this.env.MQTT_URL,
      // One session per object: the same id after every restart, so the broker keeps it.
      clientId: `bridge-${this.ctx.id.toString().slice(0, 16)}`,
      clean: false,
      reconnect: true,
      store: durableObjectStore(this.ctx.storage),
    });
    // A client the broker ended for good (refused, session taken over) is replaced on the next call.
    void client.closed.then(() => {
      if (this.#client === client) this.#client = undefined;
    });
    this.#client = client;
    return client;
  }

  /** Publishes and resolves when the QoS flow completes (for QoS 1/2, after the broker acknowledged it). */
  async publish(topic: string, payload: string, qos: QoS = 1): Promise<{ ok: true }> {
    await this.#mqtt().publish(topic, payload, { qos });
    return { ok: true };
  }

  /** Connects now, sending again whatever an earlier instance left unacknowledged. */
  async resume(): Promise<{ sessionPresent: boolean }> {
    const { sessionPresent } = await this.#mqtt().connect();
    return { sessionPresent };
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/publish")
      return Response.json({ error: "POST /publish {topic, payload, qos}" }, { status: 404 });
    let body: { topic?: unknown; payload?: unknown; qos?: unknown };
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "the body must be JSON" }, { status: 400 });
    }
    if (typeof body.topic !== "string" || typeof body.payload !== "string")
      return Response.json({ error: "topic and payload must be strings" }, { status: 400 });
    const qos = body.qos ?? 1;
    if (qos !== 0 && qos !== 1 && qos !== 2) return Response.json({ error: "qos must be 0, 1 or 2" }, { status: 400 });
    const bridge = env.BRIDGE.get(env.BRIDGE.idFromName("default"));
    try {
      return Response.json(await bridge.publish(body.topic, body.payload, qos));
    } catch (error) {
      return Response.json(
        { error: (error as { code?: string }).code ?? "EINTERNAL", message: (error as Error).message },
        { status: 502 },
      );
    }
  },
};
