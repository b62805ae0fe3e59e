import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { redisConformance } from "../../suites/redis-conformance.js";

redisConformance({ runtime: "node", connect: createConnect(), redis: inject("redis") });
