/** A promise with its settle functions, and whether it has settled (Node 20 lacks Promise.withResolvers). */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
  readonly settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d = {
    promise,
    settled: false,
    resolve(value: T) {
      d.settled = true;
      resolve(value);
    },
    reject(reason: unknown) {
      d.settled = true;
      reject(reason);
    },
  };
  return d;
}
