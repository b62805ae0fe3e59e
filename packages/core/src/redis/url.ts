/** What a `redis://` or `rediss://` URL holds. */
export interface RedisUrl {
  hostname: string;
  port: number;
  tls: boolean;
  username: string | undefined;
  password: string | undefined;
  db: number | undefined;
}

/**
 * Parses `redis://[[user]:password@]host[:port][/db]` and `rediss://…` (TLS).
 * Throws a `TypeError` naming the problem; the password never appears in it.
 */
export function parseRedisUrl(url: string): RedisUrl {
  if (typeof url !== "string") throw new TypeError(`the Redis URL must be a string, got ${typeof url}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid Redis URL (expected redis://host:port or rediss://host:port)`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(`unsupported Redis URL scheme "${parsed.protocol}" (expected redis: or rediss:)`);
  }
  if (parsed.hostname === "") throw new TypeError("the Redis URL has no host");
  const path = parsed.pathname.replace(/^\//, "");
  const dbText = parsed.searchParams.get("db") ?? path;
  let db: number | undefined;
  if (dbText !== "") {
    db = /^\d{1,5}$/.test(dbText) ? Number(dbText) : Number.NaN;
    if (Number.isNaN(db)) throw new TypeError(`the Redis URL's database "${dbText.slice(0, 20)}" is not a number`);
  }
  const decode = (s: string) => (s === "" ? undefined : decodeURIComponent(s));
  return {
    hostname: parsed.hostname,
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    tls: parsed.protocol === "rediss:",
    username: decode(parsed.username),
    password: decode(parsed.password),
    db,
  };
}
