// Loaded wherever the `workerd` export condition is not set (Node, bundlers
// for other targets): importing is safe, connecting says what to do instead.
import type { Connect } from "@sockkit/core";

const message =
  "@sockkit/adapter-workers only works inside workerd (Cloudflare Workers, wrangler dev, " +
  "vitest-pool-workers). On Node use @sockkit/adapter-node, or run with " +
  "`node --import @sockkit/adapter-node/register-workerd` to load this adapter over the emulation.";

export const connect: Connect = () => {
  throw new Error(message);
};

export const rawConnect: Connect = connect;

export function mapWorkersError(error: unknown): unknown {
  return error;
}
