// The gateway's Redis command policy against Redis itself: the checked-in command table equals what
// the harness's redis-server reports (so it cannot drift silently), and for every command and
// subcommand Redis knows, the policy decides as Redis's own ACL engine does for the same rules
// (ACL SETUSER with the rules, then ACL DRYRUN).
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { createRedisClient, type RespValue } from "@sockkit/core/redis";
import { createCommandPolicy, REDIS_DEFAULT_RULES, REDIS_READ_ONLY_RULES } from "@sockkit/gateway";
// @ts-expect-error: a plain .mjs script without types
import { readCommandTable, TABLE_FILE } from "../../../packages/gateway/scripts/redis-commands.mjs";

const redis = inject("redis");
const client = createRedisClient({
  connect: createConnect(),
  address: { hostname: redis.shared.hostname, port: redis.shared.port },
  protocol: 2,
});
const users: string[] = [];
afterAll(async () => {
  for (const user of users) await client.send("ACL", "DELUSER", user);
  await client.close();
});

describe("the Redis command table (packages/gateway/src/policy/redis-commands.json)", () => {
  it("is what this redis-server reports: regenerate it with the script when Redis changes", async () => {
    const stored = JSON.parse(readFileSync(TABLE_FILE, "utf8"));
    const live = await readCommandTable((...args: string[]) => client.send(...args));
    expect(
      live.version,
      `the table was captured from redis-server ${stored.version}, this machine runs ${live.version}: ` +
        "run node packages/gateway/scripts/redis-commands.mjs and review the diff",
    ).toBe(stored.version);
    expect(live).toEqual(stored);
    expect(Object.keys(stored.commands).length).toBeGreaterThan(300);
  });
});

/** Every command and subcommand with arguments enough for its arity ("x" for each); a container's subcommands, not the container. */
async function everyCommand(): Promise<string[][]> {
  const out: string[][] = [];
  const add = (entry: RespValue[], parent?: string) => {
    const name = String(entry[0]);
    const arity = Math.abs(Number(entry[1]));
    const words = parent ? [parent, name.split("|")[1]!] : [name];
    while (words.length < arity) words.push("x");
    const subcommands = (entry[9] as RespValue[][] | undefined) ?? [];
    if (subcommands.length === 0) out.push(words);
    for (const sub of subcommands) add(sub, name);
  };
  for (const entry of (await client.send("COMMAND", "INFO")) as RespValue[][]) add(entry);
  return out;
}

const RULE_SETS: Record<string, readonly string[]> = {
  default: REDIS_DEFAULT_RULES,
  "read-only": REDIS_READ_ONLY_RULES,
  "writes but no deletes": ["+@all", "-@dangerous", "-@scripting", "-del", "-unlink", "-@admin"],
  "hashes only, no HDEL": ["-@all", "+@hash", "-hdel", "+ping"],
  "everything but CLIENT, except CLIENT LIST and ID": ["+@all", "-client", "+client|list", "+client|id"],
  "pubsub and connection": ["-@all", "+@pubsub", "+@connection", "-client|kill"],
};

describe("the policy decides as Redis's ACL engine does", () => {
  it.each(Object.keys(RULE_SETS))("%s: every command and subcommand of the table", async (name) => {
    const rules = RULE_SETS[name]!;
    const user = `gateway-policy-${Math.random().toString(36).slice(2)}`;
    users.push(user);
    expect(await client.send("ACL", "SETUSER", user, "reset", "on", "nopass", "~*", "&*", ...rules)).toBe("OK");
    const policy = createCommandPolicy(rules);
    const commands = await everyCommand();
    const verdicts = await Promise.all(
      commands.map((words) =>
        client.send("ACL", "DRYRUN", user, ...words).then(
          (reply) => ({ words, reply: String(reply) }),
          (error: Error) => ({ words, reply: error.message }),
        ),
      ),
    );
    const disagreements: string[] = [];
    let allowed = 0;
    for (const { words, reply } of verdicts) {
      const redisAllows = reply === "OK";
      if (!redisAllows && !/no permissions/.test(reply)) throw new Error(`ACL DRYRUN ${words.join(" ")}: ${reply}`);
      const ours = policy.check(words).allowed;
      if (ours) allowed++;
      if (ours !== redisAllows)
        disagreements.push(`${words.slice(0, 2).join(" ")}: Redis ${redisAllows}, ours ${ours}`);
    }
    expect(disagreements).toEqual([]);
    // Neither nothing nor everything: the rule set decides something.
    expect(allowed).toBeGreaterThan(0);
    expect(allowed).toBeLessThan(commands.length);
    expect(commands.length).toBeGreaterThan(300);
  });
});
