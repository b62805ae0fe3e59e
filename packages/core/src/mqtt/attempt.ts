import { connectWithTimeout } from "../connect-with-timeout.js";
import { ConnectError, TimeoutError, asConnectError } from "../errors.js";
import type { SocketLike } from "../types.js";
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

/**
 * The attempt's socket, opened within its deadline (`signal` aborts it: the deadline, `end()`,
 * `destroy()`); one that opens after the attempt was given up is closed, not kept.
 */
export async function openSocket(o: MqttSettings, signal: AbortSignal, attempt: number): Promise<SocketLike> {
  let socket: SocketLike;
  try {
    socket = await connectWithTimeout(
      o.connect,
      { hostname: o.hostname, port: o.port },
      o.tls ? { secureTransport: "on" } : undefined,
      { timeoutMs: o.connectTimeoutMs, signal, attempt },
    );
  } catch (cause) {
    throw asConnectError(cause, `${o.hostname}:${o.port}`, "connecting to the MQTT broker");
  }
  if (signal.aborted) {
    await socket.close().catch(() => {});
    throw signal.reason;
  }
  return socket;
}
