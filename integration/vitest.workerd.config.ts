import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    // A function: the pool calls it after globalSetup, so the test CA made there can be trusted here.
    cloudflareTest(({ inject }) => ({
      // The test worker's main module exports the Durable Object of examples/mqtt-durable-object.
      main: "../examples/mqtt-durable-object/src/index.ts",
      miniflare: {
        durableObjects: { BRIDGE: "MqttBridge" },
        bindings: { MQTT_URL: `mqtt://127.0.0.1:${inject("mqtt").aedes}` },
        // Explicit: the default is today's date, which can be newer than the bundled workerd supports.
        compatibilityDate: "2026-04-01",
        compatibilityFlags: ["nodejs_compat"],
        outboundService: {
          network: {
            // A custom network outbound allows only public addresses unless told otherwise.
            allow: ["public", "private", "local"],
            // The socket suites' and the TLS Mosquitto's CA (the same one when both setups share it).
            tlsOptions: {
              trustedCertificates: [...new Set([inject("sockets").caCert, inject("mqtt").mosquittoTls.caCert])],
            },
          },
        },
      },
    })),
  ],
  test: {
    name: "workerd",
    root: import.meta.dirname,
    include: ["test/workerd/**/*.test.ts"],
    globalSetup: [
      "harness/node/global-setup.ts",
      "harness/node/redis-setup.ts",
      "harness/node/redis-cluster-setup.ts",
      "harness/node/mqtt-setup.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
