// Runtime-neutral client for the test servers' control port (used from workerd and Node).
import type { Connect } from "@sockkit/core";
import type { ControlStats } from "./servers.js";

/** Sends one command ("stats", or "drain" to make the sink read) and returns the servers' stats. */
export async function controlCommand(connect: Connect, port: number, command = "stats"): Promise<ControlStats> {
  const socket = connect({ hostname: "127.0.0.1", port });
  try {
    const writer = socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(`${command}\n`));
    writer.releaseLock();
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of socket.readable) text += decoder.decode(chunk, { stream: true });
    return JSON.parse(text) as ControlStats;
  } finally {
    await socket.close();
  }
}
