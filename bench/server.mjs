// Benchmark peer, run as a child process so it does not share the client's event loop.
// Prints {"download": port, "echo": port} once listening; exits when stdin closes.
import net from "node:net";

const size = Number(process.argv[2] ?? 256 * 1024 * 1024);
const block = Buffer.alloc(1024 * 1024, 0x61);

const download = net.createServer((socket) => {
  socket.on("error", () => {});
  let sent = 0;
  const pump = () => {
    while (sent < size) {
      const n = Math.min(block.length, size - sent);
      sent += n;
      if (!socket.write(n === block.length ? block : block.subarray(0, n))) return void socket.once("drain", pump);
    }
    socket.end();
  };
  pump();
});

const echo = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("error", () => {});
  socket.pipe(socket);
});

const listen = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const ports = { download: await listen(download), echo: await listen(echo) };
console.log(JSON.stringify(ports));
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
