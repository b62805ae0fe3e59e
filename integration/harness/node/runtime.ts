// Which JavaScript runtime runs this process, for the entry files' "runs on" checks.

export interface CurrentRuntime {
  name: "node" | "bun" | "deno";
  version: string;
}

/** Bun and Deno also report a Node version (their compatibility level), so they are asked first. */
export function currentRuntime(): CurrentRuntime {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno?.version?.deno;
  if (deno) return { name: "deno", version: deno };
  const bun = (process.versions as Record<string, string | undefined>).bun;
  if (bun) return { name: "bun", version: bun };
  return { name: "node", version: process.versions.node };
}
