import { describe, expect, it } from "vitest";
import { backoffDelay, reconnectSettings } from "../src/backoff.js";
import { AllAttemptsFailedError, ConnectError, DestinationDeniedError, isSockkitError } from "../src/errors.js";
import { connectWithFallback } from "../src/fallback.js";
import { connectWithRetry } from "../src/retry.js";
import type { Connect, SocketAddress, SocketLike } from "../src/types.js";

/** A connect whose sockets open or fail as `plan` says, per address; counts calls and closes. */
function scripted(plan: (address: string, call: number) => "open" | "hang" | Error) {
  const calls: string[] = [];
  let closes = 0;
  const connect: Connect = (address) => {
    const where =
      typeof address === "string"
        ? address
        : `${(address as SocketAddress).hostname}:${(address as SocketAddress).port}`;
    calls.push(where);
    const outcome = plan(where, calls.length);
    const opened =
      outcome === "open"
        ? Promise.resolve({ remoteAddress: where })
        : outcome === "hang"
          ? new Promise<never>(() => {})
          : Promise.reject(outcome);
    opened.catch(() => {});
    const socket: SocketLike = {
      readable: new ReadableStream(),
      writable: new WritableStream(),
      opened,
      closed: Promise.resolve(),
      upgraded: false,
      secureTransport: "off",
      close: async () => {
        closes++;
      },
      startTls: () => socket,
    };
    return socket;
  };
  return { connect, calls, closes: () => closes };
}

describe("connectWithRetry", () => {
  it("retries failures with capped exponential backoff, then succeeds; failed attempts are closed", async () => {
    const s = scripted((_, call) => (call < 3 ? new ConnectError("h:1", "refused") : "open"));
    const events: { attempt: number; delayMs: number }[] = [];
    const socket = await connectWithRetry(s.connect, "h:1", undefined, {
      retries: 5,
      baseDelayMs: 4,
      maxDelayMs: 6,
      jitter: "none",
      onRetry: ({ attempt, delayMs }) => events.push({ attempt, delayMs }),
    });
    expect(await socket.opened).toEqual({ remoteAddress: "h:1" });
    expect(events).toEqual([
      { attempt: 2, delayMs: 4 },
      { attempt: 3, delayMs: 6 },
    ]);
    expect(s.closes()).toBe(2);
  });

  it("gives up after `retries` and throws the last error", async () => {
    const s = scripted(() => new ConnectError("h:1", "refused"));
    const error = await connectWithRetry(s.connect, "h:1", undefined, { retries: 2, baseDelayMs: 1 }).catch(
      (e: unknown) => e,
    );
    expect(isSockkitError(error, "ECONNECT")).toBe(true);
    expect(s.calls).toHaveLength(3);
  });

  it("never retries what cannot get better: a denied destination, a TLS failure, a TypeError; nor what shouldRetry refuses", async () => {
    for (const failure of [
      new DestinationDeniedError("h:25", "port 25"),
      Object.assign(new Error("cert"), { code: "ETLS" }),
      new TypeError("bad"),
    ]) {
      const s = scripted(() => failure);
      await expect(connectWithRetry(s.connect, "h:1", undefined, { baseDelayMs: 1 })).rejects.toBe(failure);
      expect(s.calls).toHaveLength(1);
    }
    const s = scripted(() => new ConnectError("h:1", "refused"));
    await expect(connectWithRetry(s.connect, "h:1", undefined, { shouldRetry: () => false })).rejects.toThrow(
      "refused",
    );
    expect(s.calls).toHaveLength(1);
  });

  it("full and decorrelated jitter stay within their bounds and the cap", async () => {
    for (const jitter of ["full", "decorrelated"] as const) {
      for (const r of [0, 0.5, 0.999]) {
        const delays: number[] = [];
        const s = scripted(() => new ConnectError("h:1", "refused"));
        await connectWithRetry(s.connect, "h:1", undefined, {
          retries: 4,
          baseDelayMs: 1,
          maxDelayMs: 5,
          jitter,
          random: () => r,
          onRetry: (e) => delays.push(e.delayMs),
        }).catch(() => {});
        expect(delays).toHaveLength(4);
        for (const d of delays) expect(d >= 0 && d <= 5).toBe(true);
        if (jitter === "decorrelated") for (const d of delays) expect(d).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it("an abort wakes the backoff sleep at once with signal.reason", async () => {
    const s = scripted(() => new ConnectError("h:1", "refused"));
    const controller = new AbortController();
    const t0 = Date.now();
    const retrying = connectWithRetry(s.connect, "h:1", undefined, {
      baseDelayMs: 10_000,
      maxDelayMs: 10_000,
      jitter: "none",
      signal: controller.signal,
      onRetry: () => setTimeout(() => controller.abort("stop"), 10),
    });
    await expect(retrying).rejects.toBe("stop");
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("each attempt has its own timeout", async () => {
    const s = scripted((_, call) => (call === 1 ? "hang" : "open"));
    const socket = await connectWithRetry(s.connect, "h:1", undefined, { attemptTimeoutMs: 20, baseDelayMs: 1 });
    expect(await socket.opened).toEqual({ remoteAddress: "h:1" });
    expect(s.calls).toHaveLength(2);
    expect(s.closes()).toBe(1);
  });

  it("rejects bad options with a TypeError", async () => {
    const s = scripted(() => "open");
    await expect(connectWithRetry(s.connect, "h:1", undefined, { retries: -1 })).rejects.toThrow(TypeError);
    await expect(connectWithRetry(s.connect, "h:1", undefined, { baseDelayMs: 10, maxDelayMs: 5 })).rejects.toThrow(
      TypeError,
    );
    await expect(connectWithRetry(s.connect, "h:1", undefined, { jitter: "sometimes" as never })).rejects.toThrow(
      TypeError,
    );
  });
});

describe("connectWithFallback", () => {
  it("tries addresses in order and keeps the first that opens", async () => {
    const s = scripted((address) => (address === "b:1" ? "open" : new ConnectError(address, "refused")));
    const socket = await connectWithFallback(s.connect, ["a:1", "b:1", "c:1"]);
    expect(await socket.opened).toEqual({ remoteAddress: "b:1" });
    expect(s.calls).toEqual(["a:1", "b:1"]);
  });

  it("when all fail, the error names every address and why", async () => {
    const s = scripted((address) => new ConnectError(address, `no ${address}`));
    const error = (await connectWithFallback(s.connect, ["a:1", { hostname: "b", port: 2 }]).catch(
      (e: unknown) => e,
    )) as AllAttemptsFailedError;
    expect(isSockkitError(error, "ECONNECT")).toBe(true);
    expect(error.failures.map((f) => f.address)).toEqual(["a:1", "b:2"]);
    expect(error.message).toContain("no a:1");
    expect(error.message).toContain("no b:2");
  });

  it("with staggerMs races the next address and closes every loser", async () => {
    const s = scripted((address) => (address === "slow:1" ? "hang" : "open"));
    const socket = await connectWithFallback(s.connect, ["slow:1", "fast:1"], undefined, { staggerMs: 10 });
    expect(await socket.opened).toEqual({ remoteAddress: "fast:1" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(s.closes()).toBe(1); // the hanging first attempt
  });

  it("an abort stops every attempt with signal.reason; bad input is a TypeError", async () => {
    const s = scripted(() => "hang");
    const controller = new AbortController();
    const racing = connectWithFallback(s.connect, ["a:1", "b:1"], undefined, {
      staggerMs: 1,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort("stop"), 20);
    await expect(racing).rejects.toBe("stop");
    expect(s.closes()).toBe(2);
    await expect(connectWithFallback(s.connect, [])).rejects.toThrow(TypeError);
    await expect(connectWithFallback(s.connect, ["a:1"], undefined, { staggerMs: -1 })).rejects.toThrow(TypeError);
  });
});

describe("reconnect settings shared by the Redis and MQTT clients", () => {
  it("fills the defaults, keeps the client's own offline limit, and bounds every backoff", () => {
    expect(reconnectSettings(true, "maxOfflineMessages")).toEqual({
      retries: Infinity,
      baseDelayMs: 100,
      maxDelayMs: 5000,
      maxOfflineMessages: 1000,
    });
    expect(reconnectSettings({ baseDelayMs: 10, maxOfflineCommands: 5 }, "maxOfflineCommands")).toEqual({
      retries: Infinity,
      baseDelayMs: 10,
      maxDelayMs: 5000,
      maxOfflineCommands: 5,
    });
    const settings = { retries: Infinity, baseDelayMs: 100, maxDelayMs: 1000 };
    for (let failures = 0; failures < 40; failures++) {
      const delay = backoffDelay(settings, failures);
      const step = Math.min(1000, 100 * 2 ** failures);
      expect(delay).toBeGreaterThanOrEqual(Math.max(1, Math.round(step / 2)));
      expect(delay).toBeLessThanOrEqual(step);
    }
  });

  it.each([
    [null],
    ["yes"],
    [{ baseDelayMs: -1 }],
    [{ maxDelayMs: Infinity }],
    [{ maxOfflineMessages: Infinity }],
    [{ retries: Number.NaN }],
  ])("refuses %j with a TypeError", (value) => {
    expect(() => reconnectSettings(value, "maxOfflineMessages")).toThrow(TypeError);
  });
});
