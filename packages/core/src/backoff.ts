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

/**
 * Where a reconnecting client is on its backoff. Failed attempts count towards `retries`; a
 * connection lost within `maxDelayMs` of its handshake does not, but makes the next wait longer
 * (from the second such loss in a row): a server or proxy that lets the client in and drops it at
 * once (two clients sharing an MQTT client id take the session from each other) meets a growing
 * backoff, not a new connection every `baseDelayMs` forever.
 */
export class ReconnectBackoff {
  readonly #settings: Required<BackoffOptions>;
  #failures = 0;
  #quickLosses = 0;
  #upSince = 0;

  constructor(settings: Required<BackoffOptions>) {
    this.#settings = settings;
  }

  /** An attempt failed; true while retries remain. */
  failed(): boolean {
    this.#failures++;
    return this.#failures <= this.#settings.retries;
  }

  /** The handshake completed: a run of failed attempts ends. */
  up(): void {
    this.#failures = 0;
    this.#upSince = Date.now();
  }

  /** A connection that was up is lost; `upSince` is when its handshake completed (default: the latest `up()`). */
  lost(upSince = this.#upSince): void {
    this.#quickLosses = Date.now() - upSince < this.#settings.maxDelayMs ? this.#quickLosses + 1 : 0;
  }

  /** The next attempt's number in its run: 1 after a success, then one more for each failed attempt. */
  get attempt(): number {
    return this.#failures + 1;
  }

  /** How far up the backoff the next attempt is: failed attempts, and quick losses after the first. */
  get steps(): number {
    return this.#failures + Math.max(0, this.#quickLosses - 1);
  }

  /** The wait before the next attempt. */
  delay(): number {
    return backoffDelay(this.#settings, this.steps);
  }
}
