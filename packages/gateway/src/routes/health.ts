import type { Route } from "../context.js";
import { json } from "../http.js";

/** GET /health: the gateway itself is alive (no upstream, no token). */
export const healthRoute: Route = {
  method: "GET",
  path: "/health",
  public: true,
  handle: async () => json({ ok: true }),
};
