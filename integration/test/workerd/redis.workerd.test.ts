import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { redisConformance } from "../../suites/redis-conformance.js";

redisConformance({ runtime: "workerd", connect, redis: inject("redis") });
