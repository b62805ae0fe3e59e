/**
 * `Symbol.asyncDispose`, or where the runtime has none (Node 20.0-20.3, older browsers) the
 * registered symbol that esbuild-compiled `await using` (tsup, tsx, Vitest, wrangler) falls back
 * to; code compiled by `tsc` needs a `Symbol.asyncDispose` polyfill there, loaded before sockkit.
 * Typed as the well-known symbol, so a class keyed by it is `AsyncDisposable` to the type checker.
 */
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);
