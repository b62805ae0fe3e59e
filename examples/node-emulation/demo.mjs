// `npm run demo:emulation`: runs unmodified Workers socket code (worker-code.mjs) on Node through
// the emulation (`node --import @sockkit/adapter-node/register`), against a small TCP service this
// script starts on 127.0.0.1.
import net from "node:net";
import { ask } from "./worker-code.mjs";

const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  let text = "";
  socket.on("data", (chunk) => (text += chunk));
  socket.on("end", () => socket.end(`you said: ${text.trim().toUpperCase()}\n`));
  socket.on("error", () => {});
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address();

try {
  console.log(`A TCP service is listening on 127.0.0.1:${port}.`);
  const { answer, info } = await ask({ hostname: "127.0.0.1", port }, "hello from worker code");
  console.log(`Workers code connected (opened: ${JSON.stringify(info)}) and got: "${answer}"`);
  const refused = await ask({ hostname: "127.0.0.1", port: 1 }, "anyone?").catch((error) => error);
  console.log(`A refused connection rejects as on Workers: ${refused.code}: ${refused.message}`);
  console.log("\nworker-code.mjs imports only cloudflare:sockets: the same file runs in a Worker.");
} finally {
  server.close();
}
