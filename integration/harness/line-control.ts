// A one-line control protocol for servers the tests break on purpose: the test (in workerd or
// on Node) writes "command [arg]\n", the harness (on Node) answers "ok\n" once it is done.
import type { Connect } from "@sockkit/core";

/** Sends one command and resolves once the harness answered "ok". */
export async function sendControl(connect: Connect, port: number, command: string): Promise<void> {
  const text = await queryControl(connect, port, command);
  if (text !== "ok\n") throw new Error(`control "${command}" answered ${JSON.stringify(text)}`);
}

/** Sends one command and returns the whole answer. */
export async function queryControl(connect: Connect, port: number, command: string): Promise<string> {
  const socket = connect({ hostname: "127.0.0.1", port });
  try {
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(`${command}\n`));
    writer.releaseLock();
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of socket.readable) text += decoder.decode(chunk, { stream: true });
    return text;
  } finally {
    await socket.close();
  }
}
