// Node module-customization hooks (module.register): resolve `cloudflare:sockets`
// to the emulation, and optionally prefer packages' `workerd` export condition.
interface ResolveContext {
  conditions: string[];
  parentURL?: string;
  importAttributes?: Record<string, string>;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;

/** Data passed from `register()`. */
export interface HooksData {
  /** Prefer the `workerd` export condition. */
  workerd?: boolean;
}

const EMULATION_URL = new URL("./index.js", import.meta.url).href;
let workerd = false;

export function initialize(data: HooksData | undefined): void {
  workerd = data?.workerd === true;
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  nextResolve: NextResolve,
): Promise<ResolveResult> {
  if (specifier === "cloudflare:sockets") {
    return { url: EMULATION_URL, format: "module", shortCircuit: true };
  }
  if (workerd && !context.conditions.includes("workerd")) {
    return nextResolve(specifier, { ...context, conditions: ["workerd", ...context.conditions] });
  }
  return nextResolve(specifier, context);
}
