import { backoffDelay } from "../../backoff.js";
import { ReplyError } from "../../errors.js";
import { settleTransaction, type BatchResult, type RedisBatch } from "../client.js";
import type { CommandOptions, RedisConnection } from "../connection.js";
import type { RespValue } from "../resp/decoder.js";
import type { RedisArgument } from "../resp/encoder.js";
import { crossSlot, KEYLESS, keysOf, type CommandSpec } from "./keys.js";
import type { ClusterNode } from "./nodes.js";
import type { ClusterRouter, Routed } from "./router.js";
import { keySlot } from "./slot.js";

type Queued = RedisBatch["commands"][number];

/** Each command's spec, COMMAND INFO looked up once per unknown name; a failed lookup is that command's error. */
async function specsOf(router: ClusterRouter, commands: readonly Queued[]): Promise<Array<CommandSpec | Error>> {
  const specs = commands.map((c) => router.specOf(c.args));
  if (!specs.some((s) => s instanceof Promise)) return specs as CommandSpec[];
  return Promise.all(specs.map((s) => (s instanceof Promise ? s.catch((e: Error) => e) : s)));
}

/**
 * A pipeline across slots: the commands for each node go out together (in
 * call order), and each result comes back at its place in the call. A
 * command redirected (`MOVED`, `ASK`) or told to wait (`TRYAGAIN`,
 * `CLUSTERDOWN`) is sent again alone; the others are not held up by it.
 */
export async function runPipeline(
  router: ClusterRouter,
  commands: readonly Queued[],
  options: CommandOptions | undefined,
): Promise<BatchResult[]> {
  const start = Date.now();
  const deadline = start + (options?.timeoutMs ?? router.settings.commandTimeoutMs);
  const results = new Array<Promise<unknown>>(commands.length);
  try {
    await router.whenReady();
    const specs = await specsOf(router, commands);
    const groups = new Map<ClusterNode, number[]>();
    const routed = new Array<Routed>(commands.length);
    for (let i = 0; i < commands.length; i++) {
      const spec = specs[i]!;
      const { args, transform, buffers = false } = commands[i]!;
      try {
        if (spec instanceof Error) throw spec;
        const slot = await router.slotOf(spec, args);
        routed[i] = { slot, readonly: spec.readonly, args, transform, buffers, options, start };
      } catch (error) {
        results[i] = Promise.reject(error);
        continue;
      }
      const node = router.route(routed[i]!.slot, routed[i]!.readonly);
      if (node === undefined || node.recovering) {
        results[i] = router.retry(routed[i]!, undefined, undefined, undefined);
        continue;
      }
      let group = groups.get(node);
      if (group === undefined) groups.set(node, (group = []));
      group.push(i);
    }
    await Promise.all(
      [...groups].map(async ([node, indexes]) => {
        let connection: RedisConnection;
        try {
          connection = await router.pool.connection(node, "command", deadline);
        } catch (error) {
          for (const i of indexes) results[i] = Promise.reject(error);
          return;
        }
        node.lastUsed = ++router.pool.tick;
        const sent = connection.sendMany(
          indexes.map((i) => commands[i]!),
          options,
        );
        indexes.forEach((i, j) => {
          results[i] = sent[j]!.catch((error: unknown) => router.retry(routed[i]!, error, node, connection));
        });
      }),
    );
  } catch (error) {
    // The topology could not be read: every command fails with why.
    for (let i = 0; i < commands.length; i++) results[i] ??= Promise.reject(error);
  }
  commands.forEach((command, i) => command.settle!(results[i]!));
  const settled = await Promise.allSettled(results);
  return settled.map((outcome) => {
    if (outcome.status === "fulfilled") return outcome.value;
    if (outcome.reason instanceof ReplyError) return outcome.reason;
    throw outcome.reason; // a connection failed: nothing is known about the commands in flight on it
  });
}

/**
 * `MULTI` … `EXEC` on the master of the transaction's one slot. Keys in
 * different slots are refused before anything is sent (`CROSSSLOT`, naming
 * the slots). Redirected while queueing (the slot moved, or is moving: Redis
 * then discards the transaction with `EXECABORT`, nothing ran), it is sent
 * again whole to the new owner (with `ASKING` for a slot being imported).
 */
export async function runMulti(
  router: ClusterRouter,
  commands: readonly Queued[],
  options: CommandOptions | undefined,
): Promise<BatchResult[] | null> {
  const fail = (error: unknown): never => {
    const failure = Promise.reject(error);
    failure.catch(() => {});
    commands.forEach((command) => command.settle!(failure));
    throw error;
  };
  const start = Date.now();
  const deadline = start + (options?.timeoutMs ?? router.settings.commandTimeoutMs);
  let slot = KEYLESS;
  try {
    await router.whenReady();
    const specs = await specsOf(router, commands);
    const keys: RedisArgument[] = [];
    const slots = new Set<number>();
    for (let i = 0; i < commands.length; i++) {
      const spec = specs[i]!;
      if (spec instanceof Error) throw spec;
      if (!spec.askServer) keys.push(...keysOf(spec, commands[i]!.args));
      else {
        const s = await router.slotOf(spec, commands[i]!.args);
        if (s !== KEYLESS) slots.add(s);
      }
    }
    for (const key of keys) slots.add(keySlot(key));
    if (slots.size > 1) throw crossSlot(keys, "MULTI");
    if (slots.size === 1) slot = [...slots][0]!;
  } catch (error) {
    fail(error);
  }
  const anyBuffers = commands.some((c) => c.buffers);
  let target: ClusterNode | undefined;
  let asking = false;
  let redirects = 0;
  let waits = 0;
  for (;;) {
    const epoch = router.epoch;
    const node = target ?? router.route(slot, false);
    let connection: RedisConnection | undefined;
    let error: unknown;
    try {
      if (node === undefined) throw new ReplyError(`CLUSTERDOWN no node is known to serve slot ${slot} yet`);
      connection = await router.pool.connection(node, "command", deadline);
      node.lastUsed = ++router.pool.tick;
      const sent = connection.sendMany(
        [
          ...(asking ? [{ args: ["ASKING"] as RedisArgument[] }] : []),
          { args: ["MULTI"] as RedisArgument[] },
          ...commands.map((c) => ({ args: c.args })),
          { args: ["EXEC"] as RedisArgument[], buffers: anyBuffers },
        ],
        { timeoutMs: Math.max(1, deadline - Date.now()), signal: options?.signal },
      );
      const queued = sent.slice(0, -1);
      for (const reply of queued) reply.catch(() => {}); // reported through EXEC
      try {
        return settleTransaction(commands, (await sent.at(-1)!) as RespValue, anyBuffers);
      } catch (failure) {
        // EXECABORT: a command was refused while queueing. If it was redirected, nothing ran: send it all again.
        if (!(failure instanceof ReplyError && failure.prefix === "EXECABORT")) throw failure;
        const refusals = await Promise.allSettled(queued);
        const redirected = refusals.find(
          (r) => r.status === "rejected" && r.reason instanceof ReplyError && REDIRECTED.has(r.reason.prefix),
        ) as PromiseRejectedResult | undefined;
        throw redirected?.reason ?? failure;
      }
    } catch (failure) {
      error = failure;
    }
    const step = router.closed ? undefined : router.next(error, node, connection);
    if (step === undefined) return fail(error);
    if (step.kind === "redirect") {
      if (++redirects > router.settings.maxRedirections) return fail(error);
      target = step.node;
      asking = step.asking;
      continue;
    }
    target = undefined;
    asking = false;
    const left = deadline - Date.now();
    if (left <= 0) return fail(error);
    if (epoch !== router.epoch) continue; // the topology changed meanwhile: try the new one now
    try {
      await router.pause(Math.min(backoffDelay(router.settings.backoff, waits++), left), options?.signal, {
        watch: step.refresh,
      });
    } catch (stopped) {
      return fail(stopped);
    }
    if (step.refresh) await router.freshTopology();
  }
}

const REDIRECTED = new Set(["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"]);
