// Bun's own sockets (Bun.connect), the reference the adapter is measured against on Bun.
const HOST = "127.0.0.1";

/** Reads `bytes` from the download peer; the clock stops at the last byte. */
export function download(port, bytes) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let n = 0;
    Bun.connect({
      hostname: HOST,
      port,
      socket: {
        data(socket, data) {
          n += data.byteLength;
          if (n >= bytes) {
            const seconds = (performance.now() - t0) / 1000;
            socket.end();
            resolve({ amount: n, seconds });
          }
        },
        error: (_socket, error) => reject(error),
        connectError: (_socket, error) => reject(error),
      },
    }).catch(reject);
  });
}

/** `count` round trips of `ping` through the echo peer. */
export function pingPong(port, count, ping) {
  return new Promise((resolve, reject) => {
    let left = count;
    let got = 0;
    Bun.connect({
      hostname: HOST,
      port,
      socket: {
        open(socket) {
          socket.setNoDelay?.(true);
          socket.write(ping);
        },
        data(socket, data) {
          got += data.byteLength;
          if (got < ping.length) return;
          got -= ping.length;
          if (--left === 0) {
            socket.end();
            resolve(count);
          } else socket.write(ping);
        },
        error: (_socket, error) => reject(error),
        connectError: (_socket, error) => reject(error),
      },
    }).catch(reject);
  });
}

export const name = "Bun.connect (raw)";
export const collectGarbage = () => Bun.gc(true);
