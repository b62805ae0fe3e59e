import { describeAddress, parseSocketAddress } from "./address.js";
import { TimeoutError } from "./errors.js";
import { onAbort, timer } from "./timer.js";
import { subscribed, tracingOf, type ConnectTrace } from "./tracing.js";
import type { Connect, SocketAddress, SocketLike, SocketOptions } from "./types.js";

/** Options for {@link connectWithTimeout}. */
export interface ConnectTimeoutOptions {
  /**
   * How long `opened` may take, in milliseconds. On expiry the socket is
   * closed and the call rejects with `TimeoutError` (`code: "ETIMEDOUT"`).
   * @default 10000
   */
  timeoutMs?: number;
  /** Aborting closes the pending socket and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Which attempt this is, for the `sockkit:connect` tracing channel (2 for the first retry). @default 1 */
  attempt?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Connects and waits for `opened`, bounded by a timeout and an abort signal.
 * The socket it gives up on is always closed, and its timer cleared.
 * A synchronous `TypeError` from `connect` (a malformed address) becomes the rejection, unchanged.
 */
export function connectWithTimeout(
  connect: Connect,
  address: string | SocketAddress,
  options?: SocketOptions,
  settings: ConnectTimeoutOptions = {},
): Promise<SocketLike> {
  const channel = tracingOf(connect)?.connect;
  if (!subscribed(channel)) return open(connect, address, options, settings);
  let context: ConnectTrace;
  try {
    const { hostname, port } = parseSocketAddress(address);
    context = {
      address: describeAddress(address),
      hostname,
      port,
      secureTransport: options?.secureTransport ?? "off",
      attempt: settings.attempt ?? 1,
    };
  } catch {
    return open(connect, address, options, settings); // a malformed address: connect's own TypeError
  }
  return channel.tracePromise(() => open(connect, address, options, settings), context);
}

async function open(
  connect: Connect,
  address: string | SocketAddress,
  options: SocketOptions | undefined,
  { timeoutMs = DEFAULT_TIMEOUT_MS, signal }: ConnectTimeoutOptions,
): Promise<SocketLike> {
  if (!(timeoutMs >= 0)) throw new TypeError(`timeoutMs must be a non-negative number, got ${timeoutMs}`);
  signal?.throwIfAborted();
  const socket = connect(address, options);
  const where = describeAddress(address);
  let giveUp!: (reason: unknown) => void;
  const gaveUp = new Promise<never>((_, reject) => {
    giveUp = reject;
  });
  const deadline = timer(timeoutMs, () =>
    giveUp(new TimeoutError(`connecting to ${where} took longer than ${timeoutMs} ms`, timeoutMs)),
  );
  const stopListening = onAbort(signal, () => giveUp(signal!.reason));
  deadline.start();
  try {
    await Promise.race([socket.opened, gaveUp]);
    return socket;
  } catch (error) {
    // Not awaited: a socket that never connected may take long to close in workerd.
    socket.close().catch(() => {});
    throw error;
  } finally {
    deadline.cancel();
    stopListening();
  }
}
