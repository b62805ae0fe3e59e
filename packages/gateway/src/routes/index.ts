// The route table: one module per route. createGateway dispatches on method and exact path.
import type { Route } from "../context.js";
import { healthRoute } from "./health.js";
import { destinationsRoute } from "./destinations.js";
import { metricsRoute } from "./metrics.js";
import { mqttSubscribeRoute } from "./mqtt-subscribe.js";
import { mqttPublishRoute } from "./mqtt-publish.js";
import { pageRoute } from "./page.js";
import { probeRoutes } from "./probe.js";
import { redisRoute } from "./redis.js";
import { tcpRoute } from "./tcp.js";

export const ROUTES: readonly Route[] = [
  pageRoute,
  healthRoute,
  ...probeRoutes,
  redisRoute,
  mqttPublishRoute,
  tcpRoute,
  metricsRoute,
  destinationsRoute,
  mqttSubscribeRoute,
];
