// The public API as a user's editor sees it: the names each entry point's published type declarations
// export (read with the TypeScript compiler from the built packages), and the values behind them.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const packagesDir = join(import.meta.dirname, "../../../packages");

interface Entry {
  /** The import specifier, e.g. `@sockkit/core/redis`. */
  spec: string;
  /** Its ESM type declarations. */
  types: string;
}

type Target = string | { [condition: string]: Target };

/** The `types` file a TypeScript user importing `spec` gets (the import condition, outside workerd). */
function importTypes(target: Target): string | undefined {
  if (typeof target === "string") return target.endsWith(".d.ts") ? target : undefined;
  const branch = target.import ?? target.default;
  if (branch !== undefined && typeof branch !== "string") return importTypes(branch);
  return typeof target.types === "string" ? target.types : branch === undefined ? undefined : importTypes(branch);
}

const entries: Entry[] = readdirSync(packagesDir).flatMap((dir) => {
  const manifest = JSON.parse(readFileSync(join(packagesDir, dir, "package.json"), "utf8")) as {
    name: string;
    exports: Record<string, Target>;
  };
  return Object.entries(manifest.exports)
    .filter(([subpath]) => subpath !== "./package.json")
    .map(([subpath, target]) => ({
      spec: subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      types: join(packagesDir, dir, importTypes(target)!),
    }));
});

const program = ts.createProgram(
  entries.map((entry) => entry.types),
  { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true },
);
const checker = program.getTypeChecker();

/** Every name `entry` exports, values and types alike. */
function exportedNames(entry: Entry): string[] {
  const file = program.getSourceFile(entry.types);
  if (!file) throw new Error(`${entry.types} (for ${entry.spec}) is missing: build first`);
  const symbol = checker.getSymbolAtLocation(file);
  return symbol ? checker.getExportsOfModule(symbol).map((s) => s.name) : [];
}

const names = new Map(entries.map((entry) => [entry.spec, exportedNames(entry)]));
const namesOf = (spec: string) => names.get(spec) ?? [];

// What only code that implements or wraps a Connect needs (adapters, clients, a gateway).
const ADAPTER_PLUMBING = [
  "CanonicalHost",
  "DecodeUtf8",
  "DiagnosticsChannels",
  "ParsedAddress",
  "PolicyAwareConnect",
  "TextAwareConnect",
  "TraceableConnect",
  "Tracing",
  "TracingChannelLike",
  "asConnectError",
  "canonicalizeHost",
  "decodeUtf8",
  "deniedSocket",
  "diagnosticsChannel",
  "describeAddress",
  "forwardCapabilities",
  "parseSocketAddress",
  "subscribed",
  "tracingOf",
  "utf8Decoder",
  "utf8DecoderOf",
  "withDestinationPolicy",
];

describe("the public API", () => {
  it("reads every entry point's declarations", () => {
    expect(entries.map((e) => e.spec)).toEqual(
      expect.arrayContaining(["@sockkit/core", "@sockkit/core/adapter", "@sockkit/core/redis", "@sockkit/core/mqtt"]),
    );
    // The register hooks are imported for their effect only.
    const hooks = ["@sockkit/adapter-node/register", "@sockkit/adapter-node/register-workerd"];
    for (const entry of entries) {
      if (!hooks.includes(entry.spec)) expect(namesOf(entry.spec).length, entry.spec).toBeGreaterThan(0);
    }
  });

  it("gives every exported name one meaning: no name is exported by two entry points", () => {
    // Except on purpose: each adapter's connect (and createConnect) is its runtime's drop-in, under the one name.
    const interchangeable = new Set(["connect", "createConnect"]);
    const owners = new Map<string, string[]>();
    for (const [spec, list] of names) {
      for (const name of list) if (!interchangeable.has(name)) owners.set(name, [...(owners.get(name) ?? []), spec]);
    }
    const shared = [...owners].filter(([, specs]) => specs.length > 1).map(([name, specs]) => `${name}: ${specs}`);
    expect(shared).toEqual([]);
  });

  it("keeps adapter plumbing out of @sockkit/core's root, in @sockkit/core/adapter", () => {
    expect(namesOf("@sockkit/core").filter((name) => ADAPTER_PLUMBING.includes(name))).toEqual([]);
    expect(namesOf("@sockkit/core/adapter")).toEqual(expect.arrayContaining(ADAPTER_PLUMBING));
  });

  it("names the Redis and MQTT subscription types for their protocol", () => {
    expect(namesOf("@sockkit/core/redis")).toEqual(
      expect.arrayContaining(["RedisSubscription", "RedisSubscribeOptions"]),
    );
    expect(namesOf("@sockkit/core/mqtt")).toEqual(expect.arrayContaining(["MqttSubscription", "MqttSubscribeOptions"]));
  });

  it("exports every error class of @sockkit/core from its root, except the MQTT client's own", async () => {
    const errorClasses = new Map<string, string>();
    for (const spec of ["@sockkit/core", "@sockkit/core/adapter", "@sockkit/core/redis", "@sockkit/core/mqtt"]) {
      const module = (await import(spec)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(module)) {
        if (typeof value === "function" && value.prototype instanceof Error) errorClasses.set(name, spec);
      }
    }
    const notAtRoot = [...errorClasses].filter(([, spec]) => spec !== "@sockkit/core").map(([name]) => name);
    expect(notAtRoot.sort()).toEqual(["MqttPacketTooLargeError", "MqttProtocolError", "MqttReasonError"]);
    // The shared ones, each with its stable code.
    expect([...errorClasses].filter(([, spec]) => spec === "@sockkit/core").map(([name]) => name)).toEqual(
      expect.arrayContaining([
        "AllAttemptsFailedError",
        "ClosedError",
        "ConnectError",
        "DestinationDeniedError",
        "PoolError",
        "ProtocolError",
        "ReplyError",
        "SockkitError",
        "TimeoutError",
        "TlsError",
        "TooLargeError",
        "TruncatedError",
      ]),
    );
  });
});
