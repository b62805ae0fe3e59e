import { HttpError } from "./http.js";

/** Upstream connections per client, capped: the gateway's per-client concurrency limit. */
export class Slots {
  readonly #active = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Takes one of the client's slots (429 when none is left); returns the idempotent release. */
  take(client: string): () => void {
    const used = this.#active.get(client) ?? 0;
    if (used >= this.max)
      throw new HttpError(429, "ETOOMANY", `at most ${this.max} upstream connections per client at once`);
    this.#active.set(client, used + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#active.get(client) ?? 1) - 1;
      if (left === 0) this.#active.delete(client);
      else this.#active.set(client, left);
    };
  }

  /** Runs `run` holding one of the client's slots. */
  async with<T>(client: string, run: () => Promise<T>): Promise<T> {
    const release = this.take(client);
    try {
      return await run();
    } finally {
      release();
    }
  }
}
