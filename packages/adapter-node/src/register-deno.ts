/**
 * `deno run -A --preload npm:@sockkit/adapter-node/register app.js` (the package's `deno` export
 * condition picks this file): `cloudflare:sockets` resolves to the emulation for `import`, `import()`
 * and `require()`, in dependencies too.
 */
import { installDenoHooks } from "./deno-hooks.js";

installDenoHooks();
