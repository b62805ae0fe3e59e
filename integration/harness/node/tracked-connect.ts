// Client-side leak checks for the per-runtime entry files: every socket a suite opened has closed, and
// (where the runtime reports its handles) no socket or timer of ours is left.
import { afterAll, expect } from "vitest";
import type { Connect, SocketLike } from "@sockkit/core";

/**
 * `connect`, recording every socket it opens; registers an afterAll that expects each one's `closed`
 * to have settled. Works on any runtime (Bun reports no handles). The capabilities core looks for
 * (symbol-keyed properties) are kept.
 */
export function trackedConnect<C extends Connect>(connect: C): C {
  const sockets: SocketLike[] = [];
  const tracked = Object.assign((...args: Parameters<Connect>) => {
    const socket = connect(...args);
    sockets.push(socket);
    return socket;
  }, connect);
  afterAll(async () => {
    let settled = 0;
    const all = sockets.map((socket) =>
      socket.closed.then(
        () => settled++,
        () => settled++,
      ),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(all), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    expect(sockets.length, "the suite opened no socket through this connect").toBeGreaterThan(0);
    expect(sockets.length - settled, "sockets whose `closed` never settled").toBe(0);
  });
  return tracked as C;
}

/**
 * Registers an afterAll that expects no TCP/TLS handle or timer to be left, on a runtime that reports
 * its handles (`process.getActiveResourcesInfo()`: Node, Deno). Register it first, so it runs last.
 */
export function expectNoHandlesLeft(): void {
  afterAll(async () => {
    // A destroyed socket's handle closes a turn of the loop later, so poll briefly.
    const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
    for (let i = 0; i < 40 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(ours()).toEqual([]);
  });
}
