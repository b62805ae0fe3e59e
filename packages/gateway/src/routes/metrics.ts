import type { Route } from "../context.js";
import { PROMETHEUS_CONTENT_TYPE } from "../telemetry/registry.js";

/** GET /metrics: Prometheus text format, behind the token like every API route. */
export const metricsRoute: Route = {
  method: "GET",
  path: "/metrics",
  handle: async ({ context }) =>
    new Response(context.metrics.registry.render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } }),
};
