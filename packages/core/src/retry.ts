import { connectWithTimeout } from "./connect-with-timeout.js";
import { isSockkitError } from "./errors.js";
import { sleep } from "./timer.js";
import type { Connect, SocketAddress, SocketLike, SocketOptions } from "./types.js";

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The attempt that is about to start (2 for the first retry). */
  attempt: number;
  /** Why the previous attempt failed. */
  error: unknown;
  /** How long the wait before it is, in milliseconds. */
  delayMs: number;
}

/** Options for {@link connectWithRetry}. */
export interface RetryOptions {
  /** Retries after the first attempt. @default 3 */
  retries?: number;
  /** The first backoff step, in milliseconds. @default 100 */
  baseDelayMs?: number;
  /** The cap on any one wait, in milliseconds. @default 5000 */
  maxDelayMs?: number;
  /**
   * `"full"`: a random wait up to the exponential step (AWS "full jitter").
   * `"decorrelated"`: random between the base and three times the last wait.
   * `"none"`: the exponential step itself.
   * @default "full"
   */
  jitter?: "full" | "decorrelated" | "none";
  /**
   * Whether to retry after `error` (called only for errors that could get
   * better: never for a denied destination, a TLS failure or a bad address).
   * @default () => true
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Called before each wait. */
  onRetry?: (event: RetryEvent) => void;
  /** Aborting stops at once, also mid-wait, with `signal.reason`. */
  signal?: AbortSignal;
  /** Each attempt's own connect timeout, in milliseconds. @default 10000 */
  attemptTimeoutMs?: number;
  /** Source of randomness in [0, 1), for tests. @default Math.random */
  random?: () => number;
}

/**
 * Errors that cannot get better by trying again: a refused destination, a
 * certificate or handshake failure, a malformed address.
 */
export function isPermanentConnectError(error: unknown): boolean {
  return error instanceof TypeError || isSockkitError(error, "EDESTINATION_DENIED") || isSockkitError(error, "ETLS");
}

/**
 * Connects, retrying failed attempts with capped exponential backoff and
 * jitter. Every failed attempt's socket is closed; the last error is thrown.
 */
export async function connectWithRetry(
  connect: Connect,
  address: string | SocketAddress,
  options?: SocketOptions,
  retry: RetryOptions = {},
): Promise<SocketLike> {
  const {
    retries = 3,
    baseDelayMs = 100,
    maxDelayMs = 5000,
    jitter = "full",
    shouldRetry = () => true,
    onRetry,
    signal,
    attemptTimeoutMs = 10_000,
    random = Math.random,
  } = retry;
  if (!Number.isInteger(retries) || retries < 0)
    throw new TypeError(`retries must be a non-negative integer, got ${retries}`);
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= baseDelayMs) || !Number.isFinite(maxDelayMs)) {
    throw new TypeError(`need 0 <= baseDelayMs <= maxDelayMs < Infinity, got ${baseDelayMs} and ${maxDelayMs}`);
  }
  if (!["full", "decorrelated", "none"].includes(jitter)) throw new TypeError(`unknown jitter "${String(jitter)}"`);

  let previousDelay = baseDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectWithTimeout(connect, address, options, { timeoutMs: attemptTimeoutMs, signal, attempt });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (attempt > retries || isPermanentConnectError(error) || !shouldRetry(error, attempt)) throw error;
      const step = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delayMs =
        jitter === "none"
          ? step
          : jitter === "full"
            ? random() * step
            : Math.min(maxDelayMs, baseDelayMs + random() * (previousDelay * 3 - baseDelayMs));
      previousDelay = Math.max(delayMs, baseDelayMs);
      onRetry?.({ attempt: attempt + 1, error, delayMs });
      await sleep(delayMs, signal);
    }
  }
}
