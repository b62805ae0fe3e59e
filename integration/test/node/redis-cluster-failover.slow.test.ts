import { afterAll, expect, inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { redisClusterFailoverConformance } from "../../suites/redis-cluster-failover-conformance.js";

// Registered first so it runs last (after hooks run in reverse): after the suite has closed its clients.
afterAll(async () => {
  // Leak check: every client was closed, so no socket or timer of ours is left.
  const ours = () => process.getActiveResourcesInfo().filter((name) => /TCP|TLS|Timeout/.test(name));
  for (let i = 0; i < 40 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours()).toEqual([]);
});

redisClusterFailoverConformance({
  runtime: "node",
  connect: createConnect(),
  cluster: inject("redisCluster").failover,
});
