import { TimeoutError } from "../errors.js";
import { timer, type Timer } from "../timer.js";

/** When a connection last wrote and last read something (`Date.now()`). */
export interface KeepaliveClock {
  readonly lastSent: number;
  readonly lastReceived: number;
}

export interface KeepaliveActions {
  ping(): void;
  /** No PINGRESP came in time: the connection is to be failed with `error`. */
  timedOut(error: TimeoutError): void;
}

/**
 * Keepalive for one connection (MQTT §3.1.2.10): PINGREQ after `periodMs` of quiet, and also when
 * the broker has been quiet that long (a client that keeps publishing QoS 0 must still notice a
 * broker that stopped answering); no PINGRESP within half the period fails the connection.
 */
export class Keepalive {
  readonly #periodMs: number;
  readonly #clock: KeepaliveClock;
  readonly #actions: KeepaliveActions;
  #pingSentAt = 0;
  #timer: Timer | undefined;

  constructor(periodMs: number, clock: KeepaliveClock, actions: KeepaliveActions) {
    this.#periodMs = periodMs;
    this.#clock = clock;
    this.#actions = actions;
    this.#arm(periodMs);
  }

  /** The broker's PINGRESP. */
  pong(): void {
    this.#pingSentAt = 0;
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = timer(ms, () => this.#check());
    this.#timer.start();
  }

  #check(): void {
    const period = this.#periodMs;
    const clock = this.#clock;
    const now = Date.now();
    if (this.#pingSentAt && now - this.#pingSentAt >= period / 2) {
      this.#timer = undefined;
      this.#actions.timedOut(new TimeoutError(`the broker did not answer PINGREQ within ${period / 2} ms`, period / 2));
      return;
    }
    if (!this.#pingSentAt && (now - clock.lastSent >= period || now - clock.lastReceived >= period)) {
      this.#pingSentAt = now;
      this.#actions.ping();
    }
    const next = this.#pingSentAt
      ? this.#pingSentAt + period / 2
      : Math.min(clock.lastSent, clock.lastReceived) + period;
    this.#arm(Math.max(10, next - now));
  }
}
