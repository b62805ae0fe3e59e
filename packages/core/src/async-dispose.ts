/**
 * `Symbol.asyncDispose`, or where the runtime has none (Node before 20.4, older browsers) the
 * registered symbol TypeScript's `await using` falls back to. Typed as the well-known symbol, so a
 * class keyed by it is `AsyncDisposable` to the type checker.
 */
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ?? (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);
