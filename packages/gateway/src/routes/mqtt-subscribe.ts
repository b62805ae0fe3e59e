// GET /mqtt/subscribe: a bounded Server-Sent Events stream of one subscription. It ends after
// maxMessages messages or maxSeconds, when the broker goes away, or when the caller stops reading;
// on every one of those paths the upstream client is ended and the caller's slot freed.
import { createMqttClient, topicFilterProblem, type MqttMessage, type QoS } from "@sockkit/core/mqtt";
import type { Route } from "../context.js";
import { HttpError, badRequest } from "../http.js";
import { toBase64 } from "../reply-json.js";
import { at, describeTarget, destination } from "../target.js";
import { withTimeout } from "../timeout.js";
import { upstream } from "../upstream.js";

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** One SSE event: `event`, an optional `id`, and JSON data on one line. */
function event(name: string, data: unknown, id?: number): Uint8Array {
  return encoder.encode(`event: ${name}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
}

/** A message as the stream sends it: the payload as text when it is UTF-8, else as base64. */
function messageData(message: MqttMessage): Record<string, unknown> {
  let payload: Record<string, string>;
  try {
    payload = { payload: strictUtf8.decode(message.payload) };
  } catch {
    payload = { payloadBase64: toBase64(message.payload) };
  }
  return { topic: message.topic, ...payload, qos: message.qos, retain: message.retain };
}

function boundedInteger(value: string | null, field: string, max: number): number {
  if (value === null) return max;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw badRequest(field, `${field} must be an integer from 1 to ${max}`);
  return Number(value);
}

export const mqttSubscribeRoute: Route = {
  method: "GET",
  path: "/mqtt/subscribe",
  async handle(call) {
    const { url, client, grant, context } = call;
    const { limits } = context;
    const params = url.searchParams;
    const target = destination(Object.fromEntries(params), "mqtt");
    call.record.upstream = describeTarget("mqtt", target);
    const filter = params.get("filter");
    const problem = topicFilterProblem(filter ?? "");
    if (filter === null || problem) throw badRequest("filter", problem ?? "filter is required");
    if (!grant.subscribe.allowsFilter(filter))
      throw new HttpError(
        403,
        "ETOPIC_DENIED",
        `subscribing to ${JSON.stringify(filter)} reaches beyond the topic filters this caller may subscribe within`,
        undefined,
        "mqttSubscribe",
      );
    const qos = Number(params.get("qos") ?? 0);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw badRequest("qos", "qos must be 0, 1 or 2");
    const maxMessages = boundedInteger(params.get("maxMessages"), "maxMessages", limits.subscribeMaxMessages);
    const maxSeconds = boundedInteger(params.get("maxSeconds"), "maxSeconds", Math.floor(limits.subscribeMaxMs / 1000));

    const release = context.slots.take(client);
    const mqtt = createMqttClient({
      connect: context.connects.mqtt,
      address: at(target),
      tls: target.tls,
      keepalive: 30,
      connectTimeoutMs: limits.connectTimeoutMs,
      maxPacketSize: limits.maxResponseBytes,
    });
    // Made before SUBSCRIBE, so that the retained messages the broker sends at once are not missed.
    const messages = mqtt.messages();
    let granted: number;
    try {
      granted = await upstream(call, "mqtt", target, async () => {
        const [code] = await withTimeout(
          mqtt.subscribe(filter, { qos: qos as QoS }),
          limits.connectTimeoutMs + limits.operationTimeoutMs,
          "the subscription",
        );
        return code ?? 0x80;
      });
      if (granted >= 0x80)
        throw new HttpError(
          502,
          "EREPLY",
          `the broker refused the subscription to ${JSON.stringify(filter)} (reason 0x${granted.toString(16)})`,
        );
    } catch (error) {
      void messages.return?.();
      await mqtt.end({ timeoutMs: 1000 }).catch(() => {});
      release();
      throw error;
    }

    let count = 0;
    let finished = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    let stream!: ReadableStreamDefaultController<Uint8Array>;
    const finish = async (reason: string, error?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      if (reason !== "cancelled") {
        const code = (error as { code?: unknown })?.code;
        const detail = error
          ? {
              error: {
                code: typeof code === "string" ? code : "ECLOSED",
                message: String((error as Error)?.message ?? error),
              },
            }
          : {};
        try {
          stream.enqueue(event("end", { reason, messages: count, ...detail }));
          stream.close();
        } catch {
          // The caller went away in the meantime.
        }
      }
      void messages.return?.();
      await mqtt.end({ timeoutMs: 1000 }).catch(() => {});
      release();
    };
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          stream = controller;
          controller.enqueue(event("subscribed", { filter, qos: granted, maxMessages, maxSeconds }));
          deadline = setTimeout(() => void finish("maxSeconds"), maxSeconds * 1000);
        },
        // One message per pull: a caller that reads slowly holds the broker's messages in the
        // client (up to its maxBufferedMessages, then the stream ends with ETOOLARGE), not here.
        async pull(controller) {
          if (finished) return;
          let next: IteratorResult<MqttMessage>;
          try {
            next = await messages.next();
          } catch (error) {
            return finish("error", error);
          }
          if (finished) return;
          if (next.done)
            return finish("closed", mqtt.connected ? undefined : new Error("the broker closed the connection"));
          controller.enqueue(event("message", messageData(next.value), ++count));
          if (count >= maxMessages) return finish("maxMessages");
        },
        cancel: () => finish("cancelled"),
      },
      { highWaterMark: 1 },
    );
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  },
};
