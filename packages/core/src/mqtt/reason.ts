import { SockkitError } from "../errors.js";

/** The broker refused something (CONNACK, SUBACK, PUBACK…) with a reason code. `code` is `"EREPLY"`. */
export class MqttReasonError extends SockkitError {
  readonly reasonCode: number;
  constructor(message: string, reasonCode: number) {
    super("EREPLY", message);
    this.reasonCode = reasonCode;
  }
}

/** Failures that another attempt would only repeat (a missing auth.challenge, say). */
const FINAL_ERRORS = new WeakSet<object>();

export function finalError<E extends Error>(error: E): E {
  FINAL_ERRORS.add(error);
  return error;
}

/** Whether a failed connection attempt is worth another: not a refusal, a final error or a bad option. */
export function retryable(error: unknown): boolean {
  if (FINAL_ERRORS.has(error as object) || error instanceof TypeError) return false;
  return !(error instanceof MqttReasonError) || RETRYABLE_CONNACK.has(error.reasonCode);
}

/** CONNACK refusals worth another attempt: the broker is busy or down, not saying no to us. */
const RETRYABLE_CONNACK = new Set([3, 0x88, 0x89, 0x97, 0x9f]);

/**
 * A broker's DISCONNECT after which reconnecting would only repeat it: our
 * packets were malformed, over its limits, or another client took the session.
 */
export const FINAL_DISCONNECT = new Set([0x81, 0x82, 0x8e, 0x90, 0x93, 0x94, 0x95, 0x99, 0x9a, 0x9b]);

/** MQTT 3.1.1 CONNACK return codes, as text. */
export const CONNACK_V4 = [
  "accepted",
  "unacceptable protocol version",
  "identifier rejected",
  "server unavailable",
  "bad user name or password",
  "not authorized",
];
