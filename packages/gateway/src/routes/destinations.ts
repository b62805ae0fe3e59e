import type { Route } from "../context.js";
import { json } from "../http.js";

/** GET /destinations: the operator's allow list (what the page offers to probe), for a caller with a token. */
export const destinationsRoute: Route = {
  method: "GET",
  path: "/destinations",
  handle: async ({ context }) => json({ destinations: context.destinations, publicPorts: context.publicPorts }),
};
