import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { redisClusterConformance } from "../../suites/redis-cluster-conformance.js";

redisClusterConformance({ runtime: "workerd", connect, cluster: inject("redisCluster").main });
