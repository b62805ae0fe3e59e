// Who may do what: bearer tokens, each with its own Redis command rules and MQTT topic filters.
import { createCommandPolicy, type CommandPolicy, type RedisCommandRules } from "./commands.js";
import { createTopicPolicy, type TopicPolicy } from "./topics.js";

/** What a caller may do beyond reaching a destination. */
export interface AccessPolicy {
  /**
   * Redis commands `POST /redis` may run: Redis ACL command rules applied in order, the last
   * matching one deciding (`["+@all", "-@dangerous", "+client|list"]` or the same as one string),
   * or a preset: `"default"` (everything but `@admin`, `@dangerous`, `@scripting`, `ACL`,
   * `CLUSTER`; `INFO` and `CLIENT LIST` allowed) or `"read-only"`.
   * @default "default"
   */
  redisCommands?: RedisCommandRules;
  /** Topic filters `POST /mqtt/publish` may publish within. @default ["#"] (every topic not starting with "$") */
  mqttPublish?: readonly string[];
  /** Topic filters `GET /mqtt/subscribe` may subscribe within. @default ["#"] */
  mqttSubscribe?: readonly string[];
}

/** One bearer token and what it may do (what it leaves out comes from the gateway's `access`). */
export interface TokenGrant extends AccessPolicy {
  /** The secret callers send as `Authorization: Bearer <token>`. Never logged. */
  token: string;
  /** Names the caller in logs and metrics. @default "token-1", "token-2"… in order */
  name?: string;
}

/** A caller's compiled rights. */
export interface Grant {
  readonly name: string;
  readonly commands: CommandPolicy;
  readonly publish: TopicPolicy;
  readonly subscribe: TopicPolicy;
}

export interface Access {
  /** Whether a token is needed at all. */
  readonly required: boolean;
  /** The grant for the request's Authorization header, or undefined (401). */
  authenticate(header: string | null): Grant | undefined;
}

/** Compiles the gateway's `token`, `tokens` and `access` options; bad ones are TypeErrors. */
export function createAccess(options: {
  token?: string;
  tokens?: readonly TokenGrant[];
  access?: AccessPolicy;
}): Access {
  const base = options.access ?? {};
  const compile = (name: string, policy: AccessPolicy): Grant => ({
    name,
    commands: createCommandPolicy(policy.redisCommands ?? base.redisCommands ?? "default"),
    publish: createTopicPolicy(policy.mqttPublish ?? base.mqttPublish, "mqttPublish filter"),
    subscribe: createTopicPolicy(policy.mqttSubscribe ?? base.mqttSubscribe, "mqttSubscribe filter"),
  });
  const grants: Array<{ token: string; grant: Grant }> = [];
  if (options.token !== undefined) grants.push({ token: options.token, grant: compile("token", base) });
  if (options.tokens !== undefined && !Array.isArray(options.tokens))
    throw new TypeError("tokens must be an array of { token, name?, redisCommands?, mqttPublish?, mqttSubscribe? }");
  (options.tokens ?? []).forEach((entry, i) => {
    grants.push({ token: entry?.token, grant: compile(entry?.name ?? `token-${i + 1}`, entry ?? {}) });
  });
  const names = new Set<string>();
  for (const { token, grant } of grants) {
    if (typeof token !== "string" || token.length === 0 || /\s/.test(token))
      throw new TypeError(`the token of ${grant.name} must be a non-empty string without spaces`);
    if (names.has(grant.name)) throw new TypeError(`two tokens are named ${grant.name}`);
    names.add(grant.name);
  }
  if (new Set(grants.map((g) => g.token)).size !== grants.length) throw new TypeError("a token is given twice");
  if (grants.length === 0) {
    const anonymous = compile("anonymous", base);
    return { required: false, authenticate: () => anonymous };
  }
  return {
    required: true,
    authenticate(header) {
      const given = /^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "";
      // Every token is compared, in constant time for equal lengths: the time taken says nothing about which matched.
      let found: Grant | undefined;
      for (const { token, grant } of grants) if (sameText(given, token)) found = grant;
      return found;
    },
  };
}

function sameText(given: string, token: string): boolean {
  let diff = given.length ^ token.length;
  for (let i = 0; i < token.length; i++) diff |= token.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  return diff === 0;
}
