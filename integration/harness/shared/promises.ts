// Runtime-neutral promise helpers for the suites (used in workerd and on Node).

/** The rejection reason of `promise`; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

/** Resolves with "pending" if `promise` has not settled after `ms`. */
export async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([promise, pending]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits until `condition()` holds (it may be async, e.g. asking a server), looking every `everyMs`,
 * for at most `timeoutMs`; the caller asserts afterwards.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 2000,
  everyMs = 20,
): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await condition()) && Date.now() < end;)
    await new Promise((resolve) => setTimeout(resolve, everyMs));
}
