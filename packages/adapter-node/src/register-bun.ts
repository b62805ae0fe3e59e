/**
 * `bun --preload @sockkit/adapter-node/register app.js` (the package's `bun` export condition picks
 * this file): `cloudflare:sockets` resolves to the emulation for `import`, `import()` and `require()`.
 */
import { installBunPlugin } from "./bun-plugin.js";

installBunPlugin();
