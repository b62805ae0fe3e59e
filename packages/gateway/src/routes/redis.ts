import { TooLargeError } from "@sockkit/core";
import { createRedisClient } from "@sockkit/core/redis";
import type { Route } from "../context.js";
import { HttpError, badRequest, json, readJson } from "../http.js";
import { commandLabel } from "../policy/commands.js";
import { replyToJson } from "../reply-json.js";
import { at, describeTarget, destination, requireAllowlisted } from "../target.js";
import { upstream } from "../upstream.js";

/** POST /redis: one command on a destination named in the allow list. */
export const redisRoute: Route = {
  method: "POST",
  path: "/redis",
  async handle(call) {
    const { request, client, grant, context } = call;
    const { limits } = context;
    const body = await readJson(request, limits.maxBodyBytes);
    const target = destination(body, "redis");
    call.record.upstream = describeTarget("redis", target);
    const command = body.command;
    if (
      !Array.isArray(command) ||
      command.length === 0 ||
      command.some((a) => typeof a !== "string" && typeof a !== "number")
    ) {
      throw badRequest("command", 'command must be a non-empty array of strings and numbers, e.g. ["GET", "key"]');
    }
    const decision = grant.commands.check(command as Array<string | number>);
    if (decision.known) call.record.command = commandLabel(decision.command);
    if (!decision.allowed)
      throw new HttpError(
        403,
        "ECOMMAND_DENIED",
        `${commandLabel(decision.command)} is refused by the gateway's command policy (${decision.reason})`,
        undefined,
        decision.reason,
      );
    requireAllowlisted(context.policy, target, "POST /redis");
    return json(
      await context.slots.with(client, () =>
        upstream(call, "redis", target, async () => {
          const started = Date.now();
          const redis = createRedisClient({
            connect: context.connects.redis,
            address: at(target),
            tls: target.tls,
            ...(typeof body.password === "string" ? { password: body.password } : {}),
            ...(typeof body.username === "string" ? { username: body.username } : {}),
            ...(typeof body.db === "number" ? { db: body.db } : {}),
            connectTimeoutMs: limits.connectTimeoutMs,
            commandTimeoutMs: limits.operationTimeoutMs,
            maxBulkLength: limits.maxResponseBytes,
            maxAggregateLength: Math.max(16, Math.floor(limits.maxResponseBytes / 8)),
          });
          try {
            const args = command as Array<string | number>;
            const reply = body.binary === true ? await redis.sendBuffer(...args) : await redis.send(...args);
            const result = { ok: true, latencyMs: Date.now() - started, reply: replyToJson(reply) };
            // The cap is on the whole reply, not each string in it.
            if (JSON.stringify(result).length > limits.maxResponseBytes) {
              throw new TooLargeError(
                `the reply is larger than ${limits.maxResponseBytes} bytes`,
                limits.maxResponseBytes,
              );
            }
            return result;
          } finally {
            redis.destroy();
          }
        }),
      ),
    );
  },
};
