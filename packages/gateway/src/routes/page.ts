import type { Route } from "../context.js";
import { PAGE } from "../page.js";

/** GET /: the page (no token needed: it asks for one). */
export const pageRoute: Route = {
  method: "GET",
  path: "/",
  public: true,
  handle: async () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
};
