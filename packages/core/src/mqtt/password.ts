import { ConnectError, TimeoutError } from "../errors.js";
import type { MqttSettings } from "./options.js";

/**
 * A connection attempt's password: the option, or what its function gives now (credentials that
 * expire). The function gets the attempt's `signal`; `aborted` rejects when the attempt is given up.
 */
export async function attemptPassword(
  o: MqttSettings,
  signal: AbortSignal,
  aborted: Promise<never>,
): Promise<Uint8Array | undefined> {
  const option = o.password;
  if (typeof option !== "function") return typeof option === "string" ? new TextEncoder().encode(option) : option;
  let value: unknown;
  try {
    value = await Promise.race([Promise.resolve({ signal }).then(option), aborted]);
  } catch (cause) {
    if (signal.aborted && cause === signal.reason) {
      // The deadline's own message speaks of CONNACK; no socket was opened yet.
      if (cause instanceof TimeoutError)
        throw new TimeoutError(
          `the password function did not answer within ${o.connectTimeoutMs} ms`,
          o.connectTimeoutMs,
        );
      throw cause;
    }
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new ConnectError(`${o.hostname}:${o.port}`, `the password function failed: ${detail}`, { cause });
  }
  if (typeof value === "string") return new TextEncoder().encode(value);
  if (value instanceof Uint8Array) return value;
  // Never retried, as a TypeError.
  throw new TypeError("the password function must return (or resolve to) a string or a Uint8Array");
}
