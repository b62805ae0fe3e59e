import { describe, expect, it, vi } from "vitest";
import {
  diagnosticsChannel,
  forwardCapabilities,
  utf8Decoder,
  withDestinationPolicy,
  type CapableConnect,
  type DiagnosticsChannels,
} from "../src/adapter.js";
import {
  createDestinationPolicy,
  guardConnect,
  type Connect,
  type DestinationPolicy,
  type SocketLike,
} from "../src/index.js";
import { decodeUtf8, utf8DecoderOf, type DecodeUtf8 } from "../src/text.js";

/** A connect that records what it was asked to dial, tagged so a test can tell connects apart. */
function fakeConnect(tag: string, calls: string[]): Connect {
  return ((address: unknown) => {
    calls.push(`${tag} ${typeof address === "string" ? address : JSON.stringify(address)}`);
    return { opened: new Promise(() => {}), closed: new Promise(() => {}) } as unknown as SocketLike;
  }) as Connect;
}

/** A logging wrapper, written the way the helper's documentation says. */
function logged(inner: Connect, log: string[]): Connect {
  return (address, options) => {
    log.push("wrapper");
    return inner(address, options);
  };
}

describe("forwardCapabilities", () => {
  const native: DecodeUtf8 = () => "native";

  function capableInner(calls: string[]) {
    const checked = fakeConnect("checked", calls);
    const inner = fakeConnect("inner", calls) as CapableConnect;
    inner[utf8Decoder] = native;
    const hook = vi.fn((_policy: DestinationPolicy) => {
      const result = checked as CapableConnect;
      result[utf8Decoder] = native;
      return result as Connect;
    });
    inner[withDestinationPolicy] = hook;
    return { inner, hook };
  }

  it("passes the decoder on and returns the wrapper itself", () => {
    const calls: string[] = [];
    const { inner } = capableInner(calls);
    const wrapper = logged(inner, []);
    expect(forwardCapabilities(inner, wrapper)).toBe(wrapper);
    expect(utf8DecoderOf(wrapper)).toBe(native);
  });

  it("passes the diagnostics channel on, also through guardConnect; leaves it unset when the inner one has none", () => {
    const channels = { tracingChannel: vi.fn() } as unknown as DiagnosticsChannels;
    const inner = fakeConnect("inner", []) as CapableConnect;
    inner[diagnosticsChannel] = channels;
    expect((forwardCapabilities(inner, logged(inner, [])) as CapableConnect)[diagnosticsChannel]).toBe(channels);
    const policy = createDestinationPolicy({ allow: [{ host: "127.0.0.1" }] });
    expect((guardConnect(inner, policy) as CapableConnect)[diagnosticsChannel]).toBe(channels);
    const bare = fakeConnect("bare", []);
    expect(diagnosticsChannel in forwardCapabilities(bare, logged(bare, []))).toBe(false);
  });

  it("without rewrap, leaves the policy capability behind (a guard must not let a policy skip it)", () => {
    const { inner } = capableInner([]);
    const wrapper = forwardCapabilities(inner, logged(inner, []));
    expect(wrapper[withDestinationPolicy]).toBeUndefined();
  });

  it("with rewrap, the connect the inner one checks policies with is wrapped too, capabilities and all", () => {
    const calls: string[] = [];
    const log: string[] = [];
    const { inner, hook } = capableInner(calls);
    const wrapper = forwardCapabilities(inner, logged(inner, log), (c) => logged(c, log));
    const policy = createDestinationPolicy({ publicOnly: true });
    const checking = wrapper[withDestinationPolicy]!(policy) as CapableConnect;
    expect(hook).toHaveBeenCalledWith(policy);
    checking("example.com:443");
    expect(calls).toEqual(["checked example.com:443"]);
    expect(log).toEqual(["wrapper"]);
    expect(utf8DecoderOf(checking)).toBe(native);
  });

  it("with rewrap, guardConnect hands names to be resolved through the wrapper to the inner connect", () => {
    const calls: string[] = [];
    const log: string[] = [];
    const { inner } = capableInner(calls);
    const wrapper = forwardCapabilities(inner, logged(inner, log), (c) => logged(c, log));
    const guarded = guardConnect(wrapper, createDestinationPolicy({ publicOnly: true }));
    guarded("example.com:443"); // must be resolved to be judged: the capability's job
    expect(calls).toEqual(['checked {"hostname":"example.com","port":443}']);
    expect(log).toEqual(["wrapper"]);
    expect(utf8DecoderOf(guarded)).toBe(native);
  });

  it("sets nothing the inner connect lacks", () => {
    const plain = fakeConnect("plain", []);
    const wrapper = forwardCapabilities(plain, logged(plain, []), (c) => c);
    expect(Object.getOwnPropertySymbols(wrapper)).toEqual([]);
    expect(utf8DecoderOf(wrapper)).toBe(decodeUtf8);
  });
});
