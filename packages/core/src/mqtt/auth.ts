import { deferred, type Deferred } from "../deferred.js";
import { ClosedError, TimeoutError } from "../errors.js";
import { timer, type Timer } from "../timer.js";
import { MqttProtocolError } from "./codec.js";
import type { AuthPacket, MqttPacket } from "./packets.js";
import type { MqttAuthOptions } from "./options.js";
import { finalError } from "./reason.js";

/** The connection an exchange runs on, as authentication sees it. */
export interface AuthLink {
  send(packet: MqttPacket): Promise<void>;
  fail(error: Error): void;
  readonly failed: boolean;
}

interface Reauthentication extends Deferred<Uint8Array | undefined> {
  link: AuthLink;
  deadline: Timer;
}

function noop(): void {}

/**
 * MQTT 5 enhanced authentication (§4.12): the broker's challenges answered one after another, in
 * the order they came, by `auth.challenge`, and re-authentication on a live connection (§4.12.1).
 */
export class EnhancedAuth {
  readonly #auth: MqttAuthOptions;
  readonly #timeoutMs: number;
  // The answers go out one after another; a new exchange drops what is still being worked out.
  #turn: Promise<void> = Promise.resolve();
  #exchange = 0;
  #reauthenticating: Reauthentication | undefined;

  constructor(auth: MqttAuthOptions, timeoutMs: number) {
    this.#auth = auth;
    this.#timeoutMs = timeoutMs;
  }

  /** A new exchange begins (a connection, its CONNACK): answers still being worked out for the last one are dropped. */
  nextExchange(): void {
    this.#exchange++;
    this.#turn = Promise.resolve();
  }

  /**
   * Re-authenticates on `link`: AUTH 0x19 with `data` (default: `auth.data`); resolves with the
   * broker's final data when its AUTH says success. Unfinished after the timeout, the connection is
   * failed and this rejects with `ETIMEDOUT`.
   */
  reauthenticate(link: AuthLink, data: Uint8Array | undefined): Promise<Uint8Array | undefined> {
    if (this.#reauthenticating) return Promise.reject(new TypeError("a re-authentication is already under way"));
    const ms = this.#timeoutMs;
    // A broker that never finishes the exchange leaves the connection in an unknown state.
    const deadline = timer(ms, () =>
      link.fail(new TimeoutError(`no end to the re-authentication within ${ms} ms`, ms)),
    );
    const done = deferred<Uint8Array | undefined>();
    this.#reauthenticating = { ...done, link, deadline };
    this.nextExchange();
    deadline.start();
    const payload = data ?? this.#auth.data;
    link
      .send({
        type: "auth",
        reasonCode: 0x19,
        properties: { authenticationMethod: this.#auth.method, ...(payload ? { authenticationData: payload } : {}) },
      })
      .catch((error: unknown) => this.end(link, error));
    return done.promise;
  }

  /** Settles the re-authentication on `link`: with the broker's final data, or an error (a refusal, a lost connection). */
  end(link: AuthLink, error?: unknown, data?: Uint8Array): void {
    const pending = this.#reauthenticating;
    if (!pending || pending.link !== link) return;
    this.#reauthenticating = undefined;
    this.nextExchange();
    pending.deadline.cancel();
    if (error === undefined) pending.resolve(data);
    else pending.reject(error);
  }

  /** The broker's AUTH on `link`: the next step of an exchange, or a re-authentication's end. */
  onAuth(packet: AuthPacket, link: AuthLink, afterConnack: boolean): void {
    const auth = this.#auth;
    // §4.12: a broker must not switch methods.
    if (packet.properties?.authenticationMethod !== auth.method) {
      throw finalError(
        new MqttProtocolError(
          `the broker's AUTH names method ${JSON.stringify(packet.properties?.authenticationMethod)}, not ${JSON.stringify(auth.method)}`,
          0x82,
        ),
      );
    }
    // After CONNACK only the client starts an exchange (§4.12.1): the broker continues one under way.
    if (afterConnack && !this.#reauthenticating)
      throw new MqttProtocolError("the broker sent AUTH after CONNACK with no re-authentication under way", 0x82);
    if (packet.reasonCode === 0x00) {
      // Success ends a re-authentication; before CONNACK, success comes as the CONNACK itself.
      if (!afterConnack) throw new MqttProtocolError("the broker's AUTH says success before CONNACK", 0x82);
      this.end(link, undefined, packet.properties?.authenticationData);
      return;
    }
    if (packet.reasonCode !== 0x18)
      throw new MqttProtocolError(
        `the broker's AUTH has reason 0x${packet.reasonCode.toString(16)}; a broker may only continue (0x18) or succeed (0x00)`,
        0x82,
      );
    const challenge = auth.challenge;
    if (!challenge)
      throw finalError(
        new MqttProtocolError(
          `the broker continues authentication (method ${auth.method}) and auth.challenge is not set to answer it`,
          0x80,
        ),
      );
    const exchange = this.#exchange;
    const live = () => !link.failed && exchange === this.#exchange;
    const data = packet.properties?.authenticationData;
    // The exchange cannot go on: tell the broker (DISCONNECT 0x80), then close with why.
    const abandon = async (what: string, cause: unknown) => {
      if (link.failed) return;
      await link.send({ type: "disconnect", reasonCode: 0x80 }).catch(noop);
      link.fail(
        new ClosedError(
          `enhanced authentication (${auth.method}): ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        ),
      );
    };
    // One answer at a time, in the order the challenges came; none once its exchange is over.
    this.#turn = this.#turn.then(async () => {
      if (!live()) return;
      let answer: Uint8Array;
      try {
        answer = await challenge(data, { reauthenticating: afterConnack });
        if (!(answer instanceof Uint8Array))
          throw new TypeError("auth.challenge must return (or resolve to) a Uint8Array");
      } catch (cause) {
        if (live()) await abandon("auth.challenge failed", cause);
        return;
      }
      if (!live()) return;
      // An answer that cannot be encoded or is over the broker's limit ends the exchange too.
      await link
        .send({
          type: "auth",
          reasonCode: 0x18,
          properties: { authenticationMethod: auth.method, authenticationData: answer },
        })
        .catch((cause: unknown) => abandon("the answer could not be sent", cause));
    });
  }
}
