import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { redisClusterConformance } from "../../suites/redis-cluster-conformance.js";

redisClusterConformance({ runtime: "node", connect: createConnect(), cluster: inject("redisCluster").main });
