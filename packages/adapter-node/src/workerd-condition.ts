/**
 * Whether the runtime resolves packages' `workerd` export condition: the package's private import
 * `#workerd-condition` names one file under that condition and another without it (package.json).
 * Bun and Deno take conditions only as a flag (`--conditions=workerd`), which a preload cannot add.
 */
export function assertWorkerdCondition(commandLine: string): void {
  if (import.meta.resolve("#workerd-condition").endsWith("/register-workerd.js")) return;
  throw new Error(
    "@sockkit/adapter-node/register-workerd: this runtime takes the `workerd` export condition only as a flag. " +
      `Run: ${commandLine}`,
  );
}
