/** A promise with its settle functions, and whether it has settled (Node 20 lacks Promise.withResolvers). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  /** Whether resolve() or reject() has been called. */
  readonly settled: boolean;
}

/**
 * A deferred whose rejection is never reported as unhandled: the plumbing that makes one (a batch
 * write, a connection's loss) reports its failure through its owner; whoever awaits it still sees it.
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  const d = {
    promise,
    settled: false,
    resolve(value: T) {
      d.settled = true;
      resolve(value);
    },
    reject(error: unknown) {
      d.settled = true;
      reject(error);
    },
  };
  return d;
}
