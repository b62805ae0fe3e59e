import { readFileSync } from "node:fs";
import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { ensureTestCerts, type TestCerts } from "./certs.js";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";

/** Ports and facts the conformance suite needs; handed to tests with Vitest's `provide`. */
export interface SocketTestEnv {
  /** Echoes every byte back. */
  echo: number;
  /** Echo on the IPv6 loopback ::1. */
  echo6: number;
  /**
   * Echo servers (127.0.0.1 and ::1) that only destination-policy denials aim at: their accepted
   * count must stay 0, which "no connection was made" checks can read without racing other test
   * files that use the echo servers at the same time.
   */
  denied: number;
  denied6: number;
  /** Sends "hello", half-closes, and records what it receives afterwards. */
  halfClose: number;
  /** Sends "bye", then resets the connection. */
  reset: number;
  /** Nothing listens here. */
  refused: number;
  /** Sends `trickleText` one byte at a time, then ends. */
  trickle: number;
  trickleText: string;
  /** Sends `bigSize` bytes (byte i is i % 251), honouring backpressure, then ends. */
  big: number;
  bigSize: number;
  /** Accepts and never reads. */
  sink: number;
  /** Accepts, then ends the connection after 100 ms without sending anything. */
  closeSoon: number;
  /** TLS echo with a certificate for localhost and 127.0.0.1 from the test CA. */
  tls: number;
  /** TLS echo whose certificate (from the test CA) names only wrong.example. */
  tlsWrongHost: number;
  /** TLS echo with a self-signed certificate no one trusts. */
  tlsUntrusted: number;
  /** TLS echo that speaks TLS 1.2 at most. */
  tls12: number;
  /** TLS echo that speaks TLS 1.3 only. */
  tls13: number;
  /** TLS echo that selects the first ALPN protocol the client offers (the other TLS servers ignore ALPN). */
  tlsAlpn: number;
  /** TLS server that ends the connection (close_notify, then FIN) as soon as the handshake is done. */
  tlsCloseAfterHandshake: number;
  /**
   * TLS server that sends "data" once the handshake is done and then drops the TCP connection
   * (FIN) without a TLS close_notify, as many servers do.
   */
  tlsDrop: number;
  /**
   * TLS server that sends "data" once the handshake is done and then resets the TCP connection.
   */
  tlsReset: number;
  /**
   * Accepts and reads, never answers: a TLS handshake against it does not complete. It drops the
   * connection after `stallMs`, so a runtime that waits for the handshake forever is not left waiting.
   */
  tlsStall: number;
  /** How long the stalling servers (`tlsStall`, "STARTTLS stall") keep a connection before dropping it. */
  stallMs: number;
  /**
   * Plain text until a line "STARTTLS [mode]\n", answers "GO\n", then: TLS echo with the test CA's
   * localhost certificate (no mode), the wrong.example one ("wrong"), the untrusted one
   * ("untrusted"); or never answers the handshake ("stall", dropped after `stallMs`). "quiet" upgrades like no mode without
   * answering "GO\n" first, so a client may send its ClientHello right behind the line. Any other
   * line is refused.
   */
  starttls: number;
  /** Answers one line command ("stats", or "drain" to make the sink read) with JSON, see {@link ControlStats}. */
  control: number;
  /** The test CA (PEM). */
  caCert: string;
  /** Fault-injecting proxies (see harness/fault-proxy.ts), each a port. */
  faults: {
    /** Echo, every reply chunk delayed by 300 ms. */
    slowEcho: number;
    /** The big server's reply, ended cleanly after 1,000 bytes. */
    cutBig: number;
    /** The big server's reply, reset after 1,000 bytes. */
    resetBig: number;
  };
}

/** What the control server reports. */
export interface ControlStats {
  /** Open connections per server, the control connection excluded. */
  open: Record<string, number>;
  /** Connections each server has accepted since the servers started. */
  accepted: Record<string, number>;
  /** Text each half-close connection received after the server ended its side. */
  halfCloseReceived: string[];
  /**
   * Bytes the big server has handed to the kernel, per connection that named itself by sending
   * a line first (keyed by that line): test files share these servers and run at the same time,
   * so "the latest connection" could be another file's.
   */
  bigSent: Record<string, number>;
  /** The SNI name each TLS connection sent, keyed by the first bytes the client sent over it (as text). */
  sni: Record<string, string>;
  /** The TLS version each connection negotiated (`"TLSv1.3"`), keyed like `sni`. */
  tlsProtocol: Record<string, string>;
  /**
   * For the ALPN server: the protocol it selected, which is the first one the client offered, or
   * `false` when the client offered none; keyed like `sni`.
   */
  alpn: Record<string, string | false>;
  /** What the sink has read since it was drained: bytes, and how many were "Z" (0x5a). */
  sinkReceived: { bytes: number; z: number };
}

export interface RunningServers {
  env: SocketTestEnv;
  stats: ControlStats;
  close(): Promise<void>;
}

const TRICKLE_TEXT = "one byte at a time, split at every boundary";

/** Starts every test server on 127.0.0.1 with free ports. */
export async function startSocketServers(options: { bigSize?: number } = {}): Promise<RunningServers> {
  const certs = ensureTestCerts();
  const bigSize = options.bigSize ?? 64 * 1024 * 1024;
  const stats: ControlStats = {
    open: {},
    accepted: {},
    halfCloseReceived: [],
    bigSent: {},
    sni: {},
    tlsProtocol: {},
    alpn: {},
    sinkReceived: { bytes: 0, z: 0 },
  };
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const sinks = new Set<net.Socket>();
  const raw = new Set<net.Socket>();

  const track = (name: string, socket: net.Socket) => {
    stats.open[name] = (stats.open[name] ?? 0) + 1;
    stats.accepted[name] = (stats.accepted[name] ?? 0) + 1;
    sockets.add(socket);
    socket.on("error", () => {}); // resets from clients are part of the tests
    socket.once("close", () => {
      stats.open[name]! -= 1;
      sockets.delete(socket);
    });
  };

  const listen = async (server: net.Server, host = "127.0.0.1"): Promise<number> => {
    servers.push(server);
    // Every raw connection, also those a TLS handshake never completed (a client that refused the
    // certificate): left half-open, they would keep server.close() waiting.
    server.on("connection", (socket: net.Socket) => {
      raw.add(socket);
      socket.once("close", () => raw.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  };

  const plain = (name: string, handler: (socket: net.Socket) => void, host?: string) =>
    listen(
      net.createServer({ allowHalfOpen: true }, (socket) => {
        track(name, socket);
        handler(socket);
      }),
      host,
    );

  const secure = (
    name: string,
    cert: string,
    key: string,
    handler: (socket: tls.TLSSocket) => void = echo,
    options: tls.TlsOptions = {},
  ) =>
    listen(
      tls.createServer({ cert, key, allowHalfOpen: true, ...options }, (socket) => {
        track(name, socket);
        recordSni(socket, stats);
        handler(socket);
      }),
    );
  const { localhostCert: cert, localhostKey: key } = certs;

  const refused = await portNobodyListensOn();

  const env: SocketTestEnv = {
    echo: await plain("echo", echo),
    echo6: await plain("echo6", echo, "::1").catch((error: Error) => {
      throw new Error(`The IPv6 tests need the loopback address ::1 (${error.message}).`);
    }),
    denied: await plain("denied", echo),
    denied6: await plain("denied6", echo, "::1"),
    halfClose: await plain("halfClose", (socket) => {
      socket.end("hello");
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.on("end", () => {
        stats.halfCloseReceived.push(Buffer.concat(received).toString());
        socket.destroy();
      });
    }),
    reset: await plain("reset", (socket) => {
      socket.write("bye", () => setTimeout(() => socket.resetAndDestroy(), 20));
    }),
    refused,
    trickle: await plain("trickle", (socket) => {
      let i = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) return clearInterval(timer);
        if (i < TRICKLE_TEXT.length) socket.write(TRICKLE_TEXT[i++]!);
        else {
          clearInterval(timer);
          socket.end();
        }
      }, 2);
      socket.once("close", () => clearInterval(timer));
    }),
    trickleText: TRICKLE_TEXT,
    big: await plain("big", (socket) => sendBig(socket, bigSize, stats)),
    bigSize,
    sink: await plain("sink", (socket) => {
      sinks.add(socket);
      socket.once("close", () => sinks.delete(socket));
      socket.on("end", () => socket.end());
      socket.on("data", (chunk: Buffer) => {
        stats.sinkReceived.bytes += chunk.length;
        for (const byte of chunk) if (byte === 0x5a) stats.sinkReceived.z++;
      });
      socket.pause();
    }),
    closeSoon: await plain("closeSoon", (socket) => {
      const timer = setTimeout(() => socket.end(), 100);
      socket.once("close", () => clearTimeout(timer));
      socket.on("end", () => socket.end());
    }),
    tls: await secure("tls", cert, key),
    tls12: await secure("tls12", cert, key, echo, { maxVersion: "TLSv1.2" }),
    tls13: await secure("tls13", cert, key, echo, { minVersion: "TLSv1.3" }),
    tlsAlpn: await secure("tlsAlpn", cert, key, echo, { ALPNCallback: ({ protocols }) => protocols[0] }),
    tlsCloseAfterHandshake: await secure("tlsCloseAfterHandshake", cert, key, (socket) => socket.end()),
    // destroy() closes the TCP connection without TLS's shutdown (no close_notify alert); the FIN
    // goes out once "data" has (the client sent nothing after the handshake, so no RST).
    tlsDrop: await secure("tlsDrop", cert, key, (socket) => socket.write("data", () => socket.destroy())),
    tlsReset: await plain("tlsReset", (socket) => {
      const secure = new tls.TLSSocket(socket, { isServer: true, cert, key });
      secure.on("error", () => {});
      // A reset of the TCP connection under TLS: the server's TLS socket cannot reset, its TCP socket can.
      secure.once("secure", () => secure.write("data", () => setTimeout(() => socket.resetAndDestroy(), 20)));
    }),
    tlsStall: await plain("tlsStall", stall),
    stallMs: STALL_MS,
    tlsWrongHost: await secure("tlsWrongHost", certs.wrongCert, certs.wrongKey),
    tlsUntrusted: await secure("tlsUntrusted", certs.untrustedCert, certs.untrustedKey),
    starttls: await plain("starttls", (socket) => startTlsServer(socket, certs, stats)),
    control: 0,
    caCert: certs.caCert,
    faults: { slowEcho: 0, cutBig: 0, resetBig: 0 },
  };
  const proxies: FaultProxy[] = [
    await startFaultProxy(env.echo, { delayMs: 300 }),
    await startFaultProxy(env.big, { cutAfterBytes: 1000 }),
    await startFaultProxy(env.big, { resetAfterBytes: 1000 }),
  ];
  env.faults = { slowEcho: proxies[0]!.port, cutBig: proxies[1]!.port, resetBig: proxies[2]!.port };
  env.control = await listen(
    net.createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", (line: Buffer) => {
        // "drain": let the sink read again, so a test can unblock writes it filled up.
        if (line.toString().startsWith("drain")) {
          for (const sink of sinks) sink.resume();
        }
        socket.end(JSON.stringify(stats));
      });
    }),
  );

  return {
    env,
    stats,
    async close() {
      await Promise.all(proxies.map((proxy) => proxy.close()));
      for (const socket of [...sockets, ...raw]) socket.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

const STALL_MS = 3000;

/** Reads what arrives and never answers; drops the connection after STALL_MS. */
function stall(socket: net.Socket): void {
  socket.resume();
  socket.once("end", () => socket.end()); // the client gave up
  const timer = setTimeout(() => socket.destroy(), STALL_MS);
  socket.once("close", () => clearTimeout(timer));
}

function echo(socket: net.Socket): void {
  socket.pipe(socket);
}

/** Keys the connection's SNI name by the first chunk it carries (tests send a unique token first). */
function recordSni(socket: tls.TLSSocket, stats: ControlStats): void {
  socket.once("data", (chunk: Buffer) => {
    const token = chunk.toString();
    stats.sni[token] = typeof socket.servername === "string" ? socket.servername : "";
    stats.tlsProtocol[token] = socket.getProtocol() ?? "";
    stats.alpn[token] = socket.alpnProtocol ?? false;
  });
}

function sendBig(socket: net.Socket, size: number, stats: ControlStats): void {
  // A client may name the connection with a first line; until then its bytes are counted here.
  let counted = 0;
  let name: string | undefined;
  let text = "";
  const onData = (chunk: Buffer) => {
    text += chunk.toString("latin1");
    const end = text.indexOf("\n");
    if (end === -1 && text.length < 256) return;
    socket.off("data", onData);
    name = end === -1 ? undefined : text.slice(0, end);
    if (name !== undefined) stats.bigSent[name] = counted;
  };
  socket.on("data", onData);
  const chunkSize = 64 * 1024;
  let sent = 0;
  const pump = () => {
    while (sent < size && !socket.destroyed) {
      const n = Math.min(chunkSize, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) chunk[i] = (sent + i) % 251;
      sent += n;
      const more = socket.write(chunk, () => {
        counted += n;
        if (name !== undefined) stats.bigSent[name] = counted;
      });
      if (!more) return void socket.once("drain", pump);
    }
    if (sent >= size) socket.end();
  };
  pump();
}

const STARTTLS_MODES = ["", " wrong", " untrusted", " stall", " quiet"];

function startTlsServer(socket: net.Socket, certs: TestCerts, stats: ControlStats): void {
  let received = Buffer.alloc(0);
  // A client that leaves before its command: end our side too (the server allows half-open connections).
  const onEnd = () => socket.end();
  socket.once("end", onEnd);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf(0x0a);
    if (end === -1) return;
    socket.off("data", onData);
    socket.off("end", onEnd);
    const line = received.subarray(0, end).toString("latin1");
    // Only "quiet" may have TLS bytes right behind the line: the others wait for "GO\n" first.
    const rest = received.subarray(end + 1);
    const mode = line.slice("STARTTLS".length);
    if (!line.startsWith("STARTTLS") || !STARTTLS_MODES.includes(mode) || (rest.length > 0 && mode !== " quiet")) {
      return void socket.end("ERR expected STARTTLS [wrong|untrusted|stall|quiet]\n");
    }
    const upgrade = () => {
      if (mode === " stall") return stall(socket); // reads the ClientHello, never answers
      const [cert, key] =
        mode === " wrong"
          ? [certs.wrongCert, certs.wrongKey]
          : mode === " untrusted"
            ? [certs.untrustedCert, certs.untrustedKey]
            : [certs.localhostCert, certs.localhostKey];
      const secure = new tls.TLSSocket(rest.length > 0 ? prepend(rest, socket) : socket, {
        isServer: true,
        cert,
        key,
        // Without an SNICallback a server-side TLSSocket does not record the client's SNI name.
        SNICallback: (_servername, cb) => cb(null, tls.createSecureContext({ cert, key })),
      });
      secure.on("error", () => {});
      recordSni(secure, stats);
      secure.pipe(secure);
    };
    if (mode === " quiet") upgrade();
    else socket.write("GO\n", upgrade);
  };
  socket.on("data", onData);
}

/** `socket` as a duplex whose readable side starts with `head` (bytes already read from it). */
function prepend(head: Buffer, socket: net.Socket): Duplex {
  const duplex = new Duplex({
    read: () => socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => socket.write(chunk, callback),
    final: (callback) => socket.end(callback),
    destroy: (error, callback) => {
      socket.destroy();
      callback(error);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.once("close", () => duplex.destroy());
  return duplex;
}

/**
 * A free port below the kernel's ephemeral range. A port from listen(0), closed again, is an
 * ephemeral one: a later listen(0) (workerd's and miniflare's servers start after this) or a
 * connection's local end may take it, and "refused" then opens: in one workerd run here every
 * refused-port test found it open.
 */
async function portNobodyListensOn(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    low = 49152; // not Linux: assume the IANA range (macOS and Windows use it)
  }
  const from = Math.max(1025, low - 12_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (free) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error(`no free port found below ${low} for the refused-connection tests`);
}
