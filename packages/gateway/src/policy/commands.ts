// Which Redis commands POST /redis may run: Redis's own ACL command rules (`+@all -@dangerous
// +client|list`), applied in order against Redis's own command table (redis-commands.json, captured
// from redis-server by scripts/redis-commands.mjs), so categories mean what they mean in Redis.
import table from "./redis-commands.json" with { type: "json" };

/** Rules as Redis ACL writes them, in order, the last matching one deciding; or a preset's name. */
export type RedisCommandRules = "default" | "read-only" | (string & {}) | readonly string[];

/**
 * The default: everything but Redis's `@admin`, `@dangerous` and `@scripting` commands (a script can
 * call anything), and all of `ACL` and `CLUSTER`, whose harmless-looking subcommands describe the
 * deployment; `INFO` and `CLIENT LIST` stay, for a console.
 */
export const REDIS_DEFAULT_RULES: readonly string[] = Object.freeze([
  "+@all",
  "-@admin",
  "-@dangerous",
  "-@scripting",
  "-acl",
  "-cluster",
  "+info",
  "+client|list",
]);

/** The read-only preset: `@read` and `@connection` commands, without the default's refusals. */
export const REDIS_READ_ONLY_RULES: readonly string[] = Object.freeze([
  "-@all",
  "+@read",
  "+@connection",
  "-@admin",
  "-@dangerous",
  "-@scripting",
  "+info",
  "+client|list",
]);

/** The Redis version the command table was captured from. */
export const REDIS_COMMAND_TABLE_VERSION: string = table.version;

const COMMANDS: Readonly<Record<string, readonly string[]>> = table.commands;
const CATEGORIES = new Set(table.categories);
// AUTH, HELLO, QUIT, RESET: Redis's ACLs never refuse them (they only set up or end the connection), nor do we.
const EXEMPT = new Set(table.exempt);
const CONTAINERS = new Set(Object.keys(COMMANDS).flatMap((name) => (name.includes("|") ? [name.split("|")[0]!] : [])));

/** What the policy says about one command. */
export type CommandDecision = (
  { allowed: true } | { allowed: false; /** The rule that refused it, or "no rule allows it". */ reason: string }
) & {
  /** `name` or `name|subcommand`, lower case. */
  command: string;
  /** Whether Redis's command table knows it (only then is its name logged). */
  known: boolean;
};

export interface CommandPolicy {
  /** The rules, expanded from a preset's name. */
  readonly rules: readonly string[];
  check(args: ReadonlyArray<string | number>): CommandDecision;
}

interface Rule {
  text: string;
  allow: boolean;
  /** A category without "@" ("all" for @all), or a command name, or "command|subcommand". */
  category?: string;
  name?: string;
}

const RULE = /^([+-])(?:@([a-z]+)|([a-z0-9_.:-]+(?:\|[a-z0-9_.:-]+)?))$/;

/**
 * Compiles `rules` (default: {@link REDIS_DEFAULT_RULES}). A malformed rule or an unknown category
 * is a TypeError; a command name the table does not know is accepted, for commands newer than the
 * table (they match `@all` and their own names, never a category).
 */
export function createCommandPolicy(rules: RedisCommandRules = "default"): CommandPolicy {
  const list =
    rules === "default"
      ? REDIS_DEFAULT_RULES
      : rules === "read-only"
        ? REDIS_READ_ONLY_RULES
        : typeof rules === "string"
          ? rules.split(/\s+/).filter(Boolean)
          : rules;
  if (!Array.isArray(list)) throw new TypeError("Redis command rules must be a string or an array of strings");
  const compiled = list.map((text): Rule => {
    const match = typeof text === "string" ? RULE.exec(text.toLowerCase()) : null;
    if (!match)
      throw new TypeError(
        `"${String(text)}" is not a Redis command rule (+@category, -@category, +command, -command|subcommand)`,
      );
    const [, sign, category, name] = match;
    if (category !== undefined && category !== "all" && !CATEGORIES.has(category))
      throw new TypeError(`"${text}" names no Redis ACL category (known: @all, @${[...CATEGORIES].join(", @")})`);
    return { text, allow: sign === "+", ...(category !== undefined ? { category } : { name: name! }) };
  });
  const decisions = new Map<string, CommandDecision>();
  const decide = (command: string): CommandDecision => {
    const known = Object.hasOwn(COMMANDS, command);
    if (EXEMPT.has(command)) return { allowed: true, command, known };
    const parent = command.split("|")[0]!;
    const categories = COMMANDS[command];
    let decided: Rule | undefined;
    for (const rule of compiled) {
      const matches =
        rule.category === "all" ||
        (rule.category !== undefined && categories?.includes(rule.category) === true) ||
        rule.name === command ||
        rule.name === parent;
      if (matches) decided = rule;
    }
    return decided?.allow
      ? { allowed: true, command, known }
      : { allowed: false, command, known, reason: decided?.text ?? "no rule allows it" };
  };
  return {
    rules: Object.freeze([...list]),
    check(args) {
      const name = String(args[0] ?? "").toLowerCase();
      // A container's subcommand is its own entry (CLIENT KILL is client|kill), as in Redis's ACLs.
      const command = CONTAINERS.has(name) && args.length > 1 ? `${name}|${String(args[1]).toLowerCase()}` : name;
      let decision = decisions.get(command);
      if (decision === undefined) {
        decision = decide(command);
        // Remember known commands only, so a caller cannot grow the cache with made-up names.
        if (decision.known) decisions.set(command, decision);
      }
      return decision;
    },
  };
}

/** How a command is named in messages: `CLIENT KILL` for client|kill. */
export function commandLabel(command: string): string {
  return command.replace("|", " ").toUpperCase();
}
