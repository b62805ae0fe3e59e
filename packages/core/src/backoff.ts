/** What the Redis and MQTT clients' `reconnect` options share. */
export interface BackoffOptions {
  /** Consecutive failed attempts before the client gives up and closes. @default Infinity */
  retries?: number;
  /** First backoff, in milliseconds. @default 100 */
  baseDelayMs?: number;
  /** Longest backoff, in milliseconds. @default 5000 */
  maxDelayMs?: number;
}

export type ReconnectSettings<Limit extends string> = Required<BackoffOptions> & Record<Limit, number>;

/**
 * A client's `reconnect: true | { … }` option with its defaults, checked:
 * every number non-negative, all but `retries` finite, so the offline queue
 * (`limit`, 1000 by default) is always bounded.
 */
export function reconnectSettings<Limit extends string>(value: unknown, limit: Limit): ReconnectSettings<Limit> {
  const given = value === true ? {} : value;
  if (typeof given !== "object" || given === null)
    throw new TypeError("reconnect must be true, false or an options object");
  const options = given as BackoffOptions & Partial<Record<Limit, number>>;
  const settings = {
    retries: options.retries ?? Infinity,
    baseDelayMs: options.baseDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? 5000,
    [limit]: options[limit] ?? 1000,
  } as ReconnectSettings<Limit>;
  for (const [key, n] of Object.entries(settings)) {
    if (typeof n !== "number" || Number.isNaN(n) || n < 0 || (key !== "retries" && !Number.isFinite(n))) {
      throw new TypeError(`reconnect.${key} must be a non-negative number, got ${String(n)}`);
    }
  }
  return settings;
}

/** The wait before the next attempt after `failures` failed ones: doubling, capped, the upper half jittered. */
export function backoffDelay(settings: Required<BackoffOptions>, failures: number): number {
  const step = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.min(failures, 20));
  return Math.max(1, Math.round(step / 2 + (Math.random() * step) / 2));
}
