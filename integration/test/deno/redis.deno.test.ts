import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { expectNoHandlesLeft, trackedConnect } from "../../harness/leak-check.js";
import { redisConformance } from "../../suites/redis-conformance.js";

// Registered first so it runs last: no socket or timer of ours is left (Deno reports its handles).
expectNoHandlesLeft();

redisConformance({ runtime: "deno", connect: trackedConnect(createConnect()), redis: inject("redis") });
