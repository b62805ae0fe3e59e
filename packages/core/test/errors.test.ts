import { describe, expect, it } from "vitest";
import {
  ConnectError,
  DestinationDeniedError,
  SockkitError,
  TimeoutError,
  TlsError,
  isSockkitError,
} from "../src/errors.js";

describe("errors", () => {
  it("each class carries its stable code, name and details", () => {
    const connect = new ConnectError("h:1", "nope", { cause: new Error("inner") });
    expect([connect.code, connect.name, connect.address]).toEqual(["ECONNECT", "ConnectError", "h:1"]);
    expect((connect.cause as Error).message).toBe("inner");
    expect(new TimeoutError("slow", 5).code).toBe("ETIMEDOUT");
    expect(new TimeoutError("slow", 5).timeoutMs).toBe(5);
    const denied = new DestinationDeniedError("h:25", "port 25 is blocked");
    expect([denied.code, denied.reason]).toEqual(["EDESTINATION_DENIED", "port 25 is blocked"]);
    expect(denied.message).toContain("h:25");
    expect(new TlsError("bad cert").code).toBe("ETLS");
    expect(connect).toBeInstanceOf(SockkitError);
  });

  it("isSockkitError recognises errors by code, also from another build of the class", () => {
    const foreign = Object.assign(new Error("from another copy"), { code: "ETIMEDOUT" });
    expect(isSockkitError(foreign)).toBe(true);
    expect(isSockkitError(foreign, "ETIMEDOUT")).toBe(true);
    expect(isSockkitError(foreign, "ECONNECT")).toBe(false);
    expect(isSockkitError(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe(false);
    expect(isSockkitError({ code: "ETIMEDOUT" })).toBe(false);
    expect(isSockkitError(null)).toBe(false);
  });
});
