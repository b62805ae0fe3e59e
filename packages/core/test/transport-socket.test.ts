// The native adapters' socket (@sockkit/core/transport) over a scripted transport: the TLS paths a
// real server cannot time (a write in flight when the connection is lost, writer.close() during the
// handshake after startTls(), a loss before the handshake ends). The conformance suites run the rest
// against real servers on Bun and Deno.
import { describe, expect, it } from "vitest";
import {
  createTransportConnect,
  type Transport,
  type TransportDialer,
  type TransportHandlers,
} from "../src/transport/index.js";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A transport whose writes complete when the test says; records what the socket asked of it. */
class ScriptedTransport implements Transport {
  calls: string[] = [];
  writes: Array<ReturnType<typeof deferred<void>>> = [];
  pendingBytes = 0;
  constructor(readonly handlers: TransportHandlers) {}
  write(): Promise<void> {
    const write = deferred<void>();
    this.writes.push(write);
    this.calls.push("write");
    return write.promise;
  }
  resume(): void {}
  pause(): void {}
  end(): Promise<void> {
    this.calls.push("end");
    return Promise.resolve();
  }
  destroy(): void {
    this.calls.push("destroy");
    for (const write of this.writes.splice(0)) write.reject(new Error("the transport was destroyed"));
  }
}

const LOST = Object.assign(new Error("peer closed connection without sending TLS close_notify"), {
  name: "UnexpectedEof",
});

/** A dialer that opens scripted transports at once and upgrades when the test says. */
function scriptedDialer(openWith?: unknown) {
  const opened: ScriptedTransport[] = [];
  const upgrades: Array<{ done: ReturnType<typeof deferred<Transport>>; handlers: TransportHandlers }> = [];
  const dialer: TransportDialer = {
    async open(_request, handlers) {
      if (openWith !== undefined) throw openWith;
      const transport = new ScriptedTransport(handlers);
      opened.push(transport);
      return transport;
    },
    upgrade(_plain, _servername, handlers) {
      const done = deferred<Transport>();
      upgrades.push({ done, handlers });
      return done.promise;
    },
    classify: (error) => ((error as Error)?.name === "UnexpectedEof" ? "lost" : "other"),
  };
  return { dialer, opened, upgrades };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("transport socket over TLS", () => {
  it('a write in flight when the TLS connection is lost rejects with workerd\'s "Network connection lost."', async () => {
    const { dialer, opened } = scriptedDialer();
    const socket = createTransportConnect({ dialer })("example.com:443", { secureTransport: "on" });
    await socket.opened;
    const write = socket.writable.getWriter().write(new Uint8Array([1, 2, 3]));
    await tick();
    opened[0]!.handlers.error(LOST);
    const error = await write.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ message: "Network connection lost.", name: "Error", retryable: true });
    expect(opened[0]!.calls).toEqual(["write", "destroy"]);
  });

  it("writer.close() during the handshake after startTls() ends the write side once the handshake is done", async () => {
    const { dialer, opened, upgrades } = scriptedDialer();
    const plain = createTransportConnect({ dialer })("example.com:25", { secureTransport: "starttls" });
    await plain.opened;
    const secure = plain.startTls();
    await secure.opened; // as in workerd, before the handshake
    const closing = secure.writable.getWriter().close();
    await tick();
    expect(upgrades).toHaveLength(1);
    const tls = new ScriptedTransport(upgrades[0]!.handlers);
    upgrades[0]!.done.resolve(tls);
    await closing;
    expect(tls.calls).toEqual(["end"]);
    expect(opened[0]!.calls).toEqual([]); // the plain transport is the TLS one's now
    await secure.close();
  });

  it("a TLS connection lost before the handshake ends rejects opened with ETLS, in workerd's words", async () => {
    const { dialer } = scriptedDialer(LOST);
    const socket = createTransportConnect({ dialer })("example.com:443", { secureTransport: "on" });
    const error = await socket.opened.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "ETLS", name: "Error" });
    expect((error as Error).message).toMatch(/^proxy request failed, cannot connect to the specified address \(/);
  });
});
