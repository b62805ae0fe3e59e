// Runtime-neutral client for the harness's control ports (used from workerd and Node): the test
// writes "command [arg]\n" and reads the whole answer.
import type { Connect } from "@sockkit/core";
import type { ControlStats } from "../node/servers.js";

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

/** Sends one command to a server the tests break on purpose; resolves once it answered "ok". */
export async function sendControl(connect: Connect, port: number, command: string): Promise<void> {
  const text = await queryControl(connect, port, command);
  if (text !== "ok\n") throw new Error(`control "${command}" answered ${JSON.stringify(text)}`);
}

/** Sends one command to the test servers ("stats", or "drain" to make the sink read) and returns their stats. */
export async function controlCommand(connect: Connect, port: number, command = "stats"): Promise<ControlStats> {
  return JSON.parse(await queryControl(connect, port, command)) as ControlStats;
}
