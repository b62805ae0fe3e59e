import { describe, expect, inject, it } from "vitest";
import { connect } from "@sockkit/adapter-workers";
import { createDestinationPolicy, guardConnect, isSockkitError } from "@sockkit/core";
import { withDestinationPolicy, type PolicyAwareConnect } from "@sockkit/core/adapter";
import { WORKERD_TRAITS } from "../../suites/runtimes.js";
import { socketConformance } from "../../suites/socket-conformance.js";

const env = inject("sockets");

describe("@sockkit/adapter-workers", () => {
  it("maps the runtime's code-less connection failure to ECONNECT, keeping the original", async () => {
    const socket = connect({ hostname: "127.0.0.1", port: env.refused });
    const error = await socket.opened.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSockkitError(error, "ECONNECT")).toBe(true);
    expect((error as Error).message).toMatch(/proxy request failed/);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(isSockkitError(await socket.closed.catch((e: unknown) => e), "ECONNECT")).toBe(true);
  });

  it("keeps synchronous TypeErrors as they are", () => {
    expect(() => connect({ hostname: "127.0.0.1", port: 70000 })).toThrow(TypeError);
  });

  it("takes over names publicOnly must resolve (the edge refuses private addresses itself), still denying literals", async () => {
    const policy = createDestinationPolicy({ publicOnly: true });
    // The capability hands names to the runtime unchanged.
    expect((connect as PolicyAwareConnect)[withDestinationPolicy]?.(policy)).toBe(connect);
    const denied = guardConnect(connect, policy)(`127.0.0.1:${env.echo}`);
    await expect(denied.opened).rejects.toMatchObject({ code: "EDESTINATION_DENIED" });
  });
});

// The wrapped connect must still behave exactly like the runtime's (its connect errors carry sockkit's codes).
socketConformance({ runtime: "workerd", traits: WORKERD_TRAITS, connect, env, tls: { connectErrors: "sockkit" } });
