/**
 * Listeners of one kind of event: each is called in turn; one that throws is reported as an uncaught
 * error and stops no other.
 */
export class Listeners<T> {
  readonly #set = new Set<(value: T) => void>();
  readonly #name: string;

  /** @param name the method that adds them, for its `TypeError` */
  constructor(name: string) {
    this.#name = name;
  }

  /** Adds `listener`; returns the function that removes it. */
  add(listener: (value: T) => void): () => void {
    if (typeof listener !== "function") throw new TypeError(`${this.#name} expects a function`);
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }

  emit(value: T): void {
    for (const listener of [...this.#set]) {
      try {
        listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
