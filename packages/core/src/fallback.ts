import { describeAddress } from "./address.js";
import { connectWithTimeout } from "./connect-with-timeout.js";
import { AllAttemptsFailedError, isSockkitError, type AttemptFailure } from "./errors.js";
import { onAbort, timer, type Timer } from "./timer.js";
import type { Connect, SocketAddress, SocketLike, SocketOptions } from "./types.js";

/** Options for {@link connectWithFallback}. */
export interface FallbackOptions {
  /** Each attempt's own connect timeout, in milliseconds. @default 10000 */
  attemptTimeoutMs?: number;
  /**
   * Happy-Eyeballs racing: start the next address after this many
   * milliseconds even if the current one has not failed yet. Without it the
   * addresses are tried one after another. On Workers every attempt in flight
   * counts toward the 6 simultaneous connections a request may hold.
   * @default undefined (one at a time)
   */
  staggerMs?: number;
  /** Aborting stops every attempt (their sockets are closed) with `signal.reason`. */
  signal?: AbortSignal;
}

/**
 * Connects to the first of `addresses` that opens, in order (or raced with
 * `staggerMs`). Every other socket is closed. If all fail, rejects with
 * `AllAttemptsFailedError` (`code: "ECONNECT"`) naming each address and why.
 * A destination-policy refusal (`EDESTINATION_DENIED`) is final: it stops
 * every attempt and is thrown as it is.
 */
export function connectWithFallback(
  connect: Connect,
  addresses: ReadonlyArray<string | SocketAddress>,
  options?: SocketOptions,
  { attemptTimeoutMs = 10_000, staggerMs, signal }: FallbackOptions = {},
): Promise<SocketLike> {
  if (!Array.isArray(addresses) || addresses.length === 0) {
    return Promise.reject(new TypeError("connectWithFallback needs at least one address"));
  }
  if (staggerMs !== undefined && !(staggerMs >= 0)) {
    return Promise.reject(new TypeError(`staggerMs must be a non-negative number, got ${staggerMs}`));
  }
  if (signal?.aborted) return Promise.reject(signal.reason);

  return new Promise((resolve, reject) => {
    const attempts: AbortController[] = [];
    const failures: AttemptFailure[] = [];
    let next = 0;
    let running = 0;
    let done = false;
    let stagger: Timer | undefined;

    const finish = () => {
      done = true;
      stagger?.cancel();
      stopListening();
      for (const attempt of attempts) attempt.abort(); // losers still connecting are closed by connectWithTimeout
    };
    const stopListening = onAbort(signal, () => {
      if (done) return;
      finish();
      reject(signal!.reason);
    });

    const startNext = () => {
      stagger?.cancel();
      if (done || next >= addresses.length) return;
      const address = addresses[next++]!;
      const attempt = new AbortController();
      attempts.push(attempt);
      running++;
      connectWithTimeout(connect, address, options, { timeoutMs: attemptTimeoutMs, signal: attempt.signal }).then(
        (socket) => {
          running--;
          if (done) {
            socket.close().catch(() => {}); // opened after another won
            return;
          }
          finish();
          resolve(socket);
        },
        (error: unknown) => {
          running--;
          if (done) return;
          if (isSockkitError(error, "EDESTINATION_DENIED")) {
            // A policy refusal is final: trying the other addresses would hide it.
            finish();
            reject(error);
            return;
          }
          failures.push({ address: describeAddress(address), error });
          if (next < addresses.length) startNext();
          else if (running === 0) {
            finish();
            reject(new AllAttemptsFailedError(failures));
          }
        },
      );
      if (staggerMs !== undefined && next < addresses.length) {
        stagger = timer(staggerMs, startNext);
        stagger.start();
      }
    };
    startNext();
  });
}
