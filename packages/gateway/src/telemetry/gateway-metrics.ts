import type { Connect } from "@sockkit/core";
import { forwardCapabilities } from "@sockkit/core/adapter";
import type { Protocol } from "../target.js";
import { Counter, Gauge, Histogram, Registry } from "./registry.js";

/** Upstream latency buckets, in seconds: a loopback PING to a slow cross-region connect. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What a denial is, from its error code (a bounded label: never an address or a rule). */
const DENIAL_REASONS: Record<string, string> = {
  EUNAUTHORIZED: "unauthorized",
  EDESTINATION_DENIED: "destination",
  ECOMMAND_DENIED: "command",
  ETOPIC_DENIED: "topic",
  ETOOMANY: "concurrency",
};

/** The gateway's metrics: one set per createGateway, so one per Node server and one per Workers isolate. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = this.registry.register(
    new Counter("sockkit_gateway_requests_total", "HTTP requests answered, by route, method and status.", [
      "route",
      "method",
      "status",
    ]),
  );
  readonly upstreamDuration = this.registry.register(
    new Histogram(
      "sockkit_gateway_upstream_duration_seconds",
      "Upstream operations (connect and exchange: a probe, a Redis command, a publish flow, a relay's connect, a subscription's SUBACK), by protocol and outcome.",
      ["protocol", "outcome"],
      LATENCY_BUCKETS,
    ),
  );
  readonly denials = this.registry.register(
    new Counter(
      "sockkit_gateway_denials_total",
      "Requests refused by a policy or limit, by reason: unauthorized, destination, command, topic, concurrency.",
      ["reason"],
    ),
  );
  readonly upstreamConnections = this.registry.register(
    new Gauge("sockkit_gateway_upstream_connections", "Upstream connections open now, by protocol.", ["protocol"]),
  );
  readonly startTime = this.registry.register(
    new Gauge(
      "sockkit_gateway_start_time_seconds",
      "When these metrics started (Unix time): a new value means a restart or a new isolate, and counters from zero.",
    ),
  );

  constructor() {
    this.startTime.set({}, Date.now() / 1000);
    for (const protocol of ["redis", "mqtt", "tcp"]) this.upstreamConnections.set({ protocol }, 0);
  }

  /** The denial reason for an error code, or undefined when the code is no denial. */
  static denialReason(code: string): string | undefined {
    return DENIAL_REASONS[code];
  }

  /** `connect`, counting the connections it opens under `protocol` until each closes (for any reason). */
  counting(connect: Connect, protocol: Protocol): Connect {
    const gauge = this.upstreamConnections;
    return forwardCapabilities(connect, (address, options) => {
      const socket = connect(address, options);
      gauge.add({ protocol }, 1);
      let counted = true;
      const closed = () => {
        if (counted) gauge.add({ protocol }, -1);
        counted = false;
      };
      socket.closed.then(closed, closed);
      return socket;
    });
  }
}
