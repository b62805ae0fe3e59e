import type net from "node:net";

// Plain TCP reads go into a buffer the adapter sizes (Node's `onread`) instead of
// Node's fixed 64 KiB per read: a bulk transfer grows it and crosses the web stream
// in fewer chunks (client CPU per downloaded MiB fell from about 1.6x raw net's to
// par with it); a partial read is copied out and the buffer shrunk to fit such reads.
// Growth stops at 256 KiB: in six alternated runs of 256 MiB downloads it beat 1 MiB
// in five and tied once (0.86-1.29x raw net against 0.86-1.11x); fresh buffers that large
// probably miss the CPU caches (not measured).
const MIN_READ_BUFFER = 16 * 1024;
const MAX_READ_BUFFER = 256 * 1024;
// Partial reads up to this size are copied with slice(): V8 keeps a result of up to 64
// bytes on the JS heap (for a 16-byte reply about 2,000 fewer instructions per read than
// an ArrayBuffer of its own). Larger ones skip slice()'s zero-fill, which perf showed on
// bulk reads; 4 KiB between the two is a judgement, not a measured crossover.
const SMALL_COPY = 4096;

/**
 * The buffer Node reads plain TCP into (`net.connect({ onread })`), sized to
 * the traffic. Node reads into whatever buffer `onread.buffer()` returns next,
 * so a buffer handed to the stream is replaced before that.
 */
export class ReadBuffer {
  #buf = uninitialized(MIN_READ_BUFFER);
  readonly onread: net.OnReadOpts;

  constructor(deliver: (chunk: Uint8Array<ArrayBuffer>) => void) {
    this.onread = {
      buffer: () => this.#buf,
      callback: (n: number, buf: Uint8Array<ArrayBuffer>): boolean => {
        const size = buf.length;
        if (n === size) {
          // Full: the stream takes this memory as it is (a chunk's buffer is exactly
          // its bytes), and more is probably waiting, so the next read gets more room.
          deliver(buf);
          this.#buf = uninitialized(Math.min(size * 2, MAX_READ_BUFFER));
        } else {
          // The kernel had less: copy the bytes out, and keep a buffer no larger than
          // such a read needs, so a connection that goes quiet holds little.
          deliver(n <= SMALL_COPY ? buf.slice(0, n) : copyOut(buf, n));
          let fit = MIN_READ_BUFFER;
          while (fit < n) fit *= 2;
          if (fit < size) this.#buf = uninitialized(fit);
        }
        return true; // pausing goes through socket.pause(), as for the 'data' path
      },
    };
  }
}

/** The first `n` bytes of `buf` in memory of their own, without zero-filling it first as slice() does. */
function copyOut(buf: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const out = uninitialized(n);
  out.set(buf.subarray(0, n));
  return out;
}

/**
 * A read buffer Node fills before anyone sees it: a full read hands over bytes
 * the kernel wrote, a partial one is copied out, so skipping the zero-fill is
 * safe (zeroing each new read buffer was a seventh of a download's CPU samples).
 */
function uninitialized(size: number): Uint8Array<ArrayBuffer> {
  // A plain view, not the Buffer: Buffer#slice() would share memory instead of copying.
  return new Uint8Array(Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer, 0, size);
}
