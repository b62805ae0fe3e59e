// Deno's own sockets (Deno.connect), the reference the adapter is measured against on Deno. Reads go
// into one reused buffer: the cheapest way to read there, so the strictest reference.
const HOST = "127.0.0.1";

/** Reads `bytes` from the download peer; the clock stops at the last byte. */
export async function download(port, bytes) {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: HOST, port });
  const buffer = new Uint8Array(256 * 1024);
  let n = 0;
  while (n < bytes) {
    const read = await conn.read(buffer);
    if (read === null) break;
    n += read;
  }
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  return { amount: n, seconds };
}

/** `count` round trips of `ping` through the echo peer. */
export async function pingPong(port, count, ping) {
  const conn = await Deno.connect({ hostname: HOST, port });
  conn.setNoDelay(true);
  const buffer = new Uint8Array(1024);
  for (let i = 0; i < count; i++) {
    for (let written = 0; written < ping.length;) written += await conn.write(ping.subarray(written));
    let got = 0;
    while (got < ping.length) {
      const read = await conn.read(buffer);
      if (read === null) throw new Error("echo server closed early");
      got += read;
    }
  }
  conn.close();
  return count;
}

export const name = "Deno.connect (raw)";
export const collectGarbage = () => {
  if (typeof globalThis.gc !== "function") throw new Error("run Deno with --v8-flags=--expose-gc");
  globalThis.gc();
};

/**
 * The same download reading into a fresh 256 KiB buffer each time, handing over the bytes read (a
 * partial read copied out), as anything that gives its chunks away must: shown for what allocation and
 * its garbage cost on Deno, not a threshold.
 */
async function downloadFresh(port, bytes) {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: HOST, port });
  let n = 0;
  const kept = [];
  while (n < bytes) {
    const buffer = new Uint8Array(256 * 1024);
    const read = await conn.read(buffer);
    if (read === null) break;
    kept[0] = read === buffer.byteLength ? buffer : buffer.slice(0, read); // handed on, then dropped
    n += read;
  }
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  return { amount: n, seconds };
}

export const extra = { "Deno.connect (raw, fresh buffers)": { download: downloadFresh, pingPong } };
