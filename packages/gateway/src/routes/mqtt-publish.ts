import { createMqttClient, topicNameProblem, type QoS } from "@sockkit/core/mqtt";
import type { Route } from "../context.js";
import { HttpError, badRequest, json, readJson } from "../http.js";
import { fromBase64 } from "../reply-json.js";
import { at, describeTarget, destination } from "../target.js";
import { upstream } from "../upstream.js";
import { withTimeout } from "../timeout.js";

/** POST /mqtt/publish: one message, answered once its QoS flow completes. */
export const mqttPublishRoute: Route = {
  method: "POST",
  path: "/mqtt/publish",
  async handle(call) {
    const { request, client, grant, context } = call;
    const { limits } = context;
    const body = await readJson(request, limits.maxBodyBytes);
    const target = destination(body, "mqtt");
    call.record.upstream = describeTarget("mqtt", target);
    const topic = body.topic;
    if (typeof topic !== "string" || topic === "") throw badRequest("topic", "topic must be a non-empty string");
    const problem = topicNameProblem(topic);
    if (problem) throw badRequest("topic", problem);
    if (!grant.publish.allowsTopic(topic))
      throw new HttpError(
        403,
        "ETOPIC_DENIED",
        `publishing to ${JSON.stringify(topic)} is outside the topic filters this caller may publish within`,
        undefined,
        "mqttPublish",
      );
    const qos = body.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw badRequest("qos", "qos must be 0, 1 or 2");
    if (body.retain !== undefined && typeof body.retain !== "boolean")
      throw badRequest("retain", "retain must be a boolean");
    let payload: string | Uint8Array;
    if (typeof body.payloadBase64 === "string") {
      const bytes = fromBase64(body.payloadBase64);
      if (bytes === undefined) throw badRequest("payloadBase64", "payloadBase64 is not valid base64");
      payload = bytes;
    } else if (typeof body.payload === "string") payload = body.payload;
    else throw badRequest("payload", "payload (a string) or payloadBase64 is required");
    const version = body.protocolVersion ?? 4;
    if (version !== 4 && version !== 5) throw badRequest("protocolVersion", "protocolVersion must be 4 or 5");
    return json(
      await context.slots.with(client, () =>
        upstream(call, "mqtt", target, async () => {
          const started = Date.now();
          const mqtt = createMqttClient({
            connect: context.connects.mqtt,
            address: at(target),
            tls: target.tls,
            protocolVersion: version,
            keepalive: 0,
            connectTimeoutMs: limits.connectTimeoutMs,
            ...(typeof body.username === "string" ? { username: body.username } : {}),
            ...(typeof body.password === "string" ? { password: body.password } : {}),
          });
          try {
            await withTimeout(
              mqtt.publish(topic, payload, { qos: qos as QoS, retain: body.retain === true }),
              limits.operationTimeoutMs,
              "the publish flow",
            );
            return { ok: true, latencyMs: Date.now() - started, qos };
          } finally {
            await mqtt.end({ timeoutMs: 1000 });
          }
        }),
      ),
    );
  },
};
