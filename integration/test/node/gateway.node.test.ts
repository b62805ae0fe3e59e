import { inject } from "vitest";
import { createConnect } from "@sockkit/adapter-node";
import { gatewayConformance } from "../../suites/gateway-conformance.js";

gatewayConformance({ runtime: "node", connect: createConnect(), sockets: inject("sockets"), redis: inject("redis"), mqtt: inject("mqtt") });
