import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { createConnect as createNativeConnect } from "@sockkit/adapter-bun";
import { trackedConnect } from "../../harness/node/tracked-connect.js";
import { redisConformance } from "../../suites/redis-conformance.js";

// Bun reports no handles (process.getActiveResourcesInfo() is always empty): the client-side leak
// check here is that every socket the suite opened has settled its `closed` (trackedConnect).

// Through @sockkit/adapter-node, then through @sockkit/adapter-bun (Bun's own sockets).
redisConformance({ runtime: "bun", connect: trackedConnect(createConnect()), redis: inject("redis") });
redisConformance({ runtime: "bun-native", connect: trackedConnect(createNativeConnect()), redis: inject("redis") });
