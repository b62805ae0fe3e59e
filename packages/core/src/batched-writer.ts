import { concat } from "./bytes.js";
import { deferred, type Deferred } from "./deferred.js";

/**
 * Writes what a connection sends in batches: everything queued in one tick goes out in one write,
 * and while a write is in flight the next batch grows. A client that sends many small packets (a
 * burst of publishes, pipelined commands) pays one write per turn of the event loop, not one per packet.
 */
export class BatchedWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #onError: (error: unknown) => void;
  readonly #collect: (() => Uint8Array | undefined) | undefined;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  // The batch being gathered, and the one being written: each settles when its write does.
  #gathering: Deferred<void> | undefined;
  #writing: Deferred<void> | undefined;
  #busy = false;
  #scheduled = false;
  #failure: unknown;
  #hasFailed = false;

  /**
   * @param onError called once when a write fails (the writer then refuses everything).
   * @param collect called before each write for bytes kept elsewhere (an encoder's own buffer).
   */
  constructor(
    writer: WritableStreamDefaultWriter<Uint8Array>,
    onError: (error: unknown) => void,
    collect?: () => Uint8Array | undefined,
  ) {
    this.#writer = writer;
    this.#onError = onError;
    this.#collect = collect;
    // Failures reach the owner through write(); these two must not surface as unhandled.
    writer.closed.catch(() => {});
    writer.ready.catch(() => {});
  }

  /** Bytes queued and not yet handed to the socket. */
  get backlog(): number {
    return this.#bytes;
  }

  /** Queues `bytes` for the next write; throws if the writer has failed. */
  queue(bytes: Uint8Array): void {
    if (this.#hasFailed) throw this.#failure;
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
    this.schedule();
  }

  /** Settles when what is queued now is written: resolves, or rejects with why it could not be. */
  written(): Promise<void> {
    if (this.#hasFailed) return Promise.reject(this.#failure);
    // Bytes waiting here, or (with `collect`) perhaps in the encoder's buffer for the next flush.
    const pending = this.#parts.length > 0 || (this.#collect !== undefined && (this.#scheduled || this.#busy));
    if (pending) return (this.#gathering ??= deferred()).promise;
    return this.#writing?.promise ?? Promise.resolve();
  }

  /** A write soon (this tick's end): for bytes `collect` will return. */
  schedule(): void {
    if (this.#scheduled || this.#busy || this.#hasFailed) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /** Settles once what is queued or being written now has been written (or failed). */
  drained(): Promise<void> {
    return this.written().then(noop, noop);
  }

  /** Refuses everything from now on; what is queued or being written rejects with `error`. */
  fail(error: unknown): void {
    if (this.#hasFailed) return;
    this.#hasFailed = true;
    this.#failure = error;
    this.#parts = [];
    this.#bytes = 0;
    this.#gathering?.reject(error);
    this.#writing?.reject(error);
    this.#gathering = this.#writing = undefined;
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#busy || this.#hasFailed) return;
    const collected = this.#collect?.();
    if (collected !== undefined) {
      this.#parts.push(collected);
      this.#bytes += collected.length;
    }
    if (this.#parts.length === 0) {
      // Nothing came after all: whoever waits on this batch has nothing left to wait for.
      this.#gathering?.resolve();
      this.#gathering = undefined;
      return;
    }
    const out = concat(this.#parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    // Every batch has its promise, asked for or not: the one being written is what drained() waits on.
    const batch = this.#gathering ?? deferred();
    this.#gathering = undefined;
    this.#writing = batch;
    this.#busy = true;
    this.#writer.write(out).then(
      () => {
        this.#busy = false;
        if (this.#writing === batch) this.#writing = undefined;
        batch.resolve();
        this.#flush();
      },
      (error: unknown) => {
        this.#busy = false;
        if (this.#hasFailed) return;
        this.fail(error);
        this.#onError(error);
      },
    );
  }
}

function noop(): void {}
