/** A one-shot timer as a tiny object: `start()` arms it, `cancel()` disarms it; both are idempotent. */
export interface Timer {
  start(): void;
  cancel(): void;
}

// setTimeout fires at once for delays past 2^31 - 1 ms; clamp to that (about 24.8 days).
const MAX_DELAY_MS = 2 ** 31 - 1;

/** `ms` may be Infinity: a timer that never fires. */
export function timer(ms: number, onFire: () => void): Timer {
  if (Number.isFinite(ms) && ms > MAX_DELAY_MS) ms = MAX_DELAY_MS;
  let handle: ReturnType<typeof setTimeout> | undefined;
  return {
    start() {
      if (handle === undefined && Number.isFinite(ms)) {
        handle = setTimeout(() => {
          handle = undefined;
          onFire();
        }, ms);
      }
    },
    cancel() {
      if (handle !== undefined) clearTimeout(handle);
      handle = undefined;
    },
  };
}

/** Adds `listener` to `signal`'s abort and returns the function that removes it. */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (!signal) return () => {};
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}

/** Waits `ms`; an abort wakes it at once with `signal.reason`, and the timer is cleared. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const stop = onAbort(signal, () => {
      wait.cancel();
      reject(signal!.reason);
    });
    const wait = timer(ms, () => {
      stop();
      resolve();
    });
    wait.start();
  });
}

/** Waits for `promise` to settle (fulfilled or rejected), at most `ms`: true if it settled in time. The timer is cleared either way. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let wait!: Timer;
  const late = new Promise<false>((resolve) => {
    wait = timer(ms, () => resolve(false));
    wait.start();
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    wait.cancel();
  }
}
