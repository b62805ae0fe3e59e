// Code written for Cloudflare Workers: it only knows `cloudflare:sockets`.
import { connect } from "cloudflare:sockets";

/** Sends one line to a line-based TCP service and returns its one-line answer. */
export async function ask(address, line) {
  const socket = connect(address);
  try {
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(`${line}\n`));
    await writer.close(); // half-close: the peer sees EOF and answers
    let answer = "";
    for await (const chunk of socket.readable) answer += new TextDecoder().decode(chunk);
    return { answer: answer.trim(), info: await socket.opened };
  } finally {
    await socket.close();
  }
}
