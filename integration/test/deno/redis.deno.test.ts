import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { createConnect as createNativeConnect } from "@sockkit/adapter-deno";
import { expectNoHandlesLeft, trackedConnect } from "../../harness/node/tracked-connect.js";
import { redisConformance } from "../../suites/redis-conformance.js";

// Registered first so it runs last: no socket or timer of ours is left (Deno reports its handles).
expectNoHandlesLeft();

// Through @sockkit/adapter-node, then through @sockkit/adapter-deno (Deno's own sockets).
redisConformance({ runtime: "deno", connect: trackedConnect(createConnect()), redis: inject("redis") });
redisConformance({ runtime: "deno-native", connect: trackedConnect(createNativeConnect()), redis: inject("redis") });
