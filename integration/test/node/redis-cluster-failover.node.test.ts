import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { redisClusterFailoverConformance } from "../../suites/redis-cluster-failover-conformance.js";

redisClusterFailoverConformance({
  runtime: "node",
  connect: createConnect(),
  cluster: inject("redisCluster").failover,
});
