import { connect } from "cloudflare:sockets";
import { inject } from "vitest";
import { redisClusterFailoverConformance } from "../../suites/redis-cluster-failover-conformance.js";

redisClusterFailoverConformance({ runtime: "workerd", connect, cluster: inject("redisCluster").failover });
