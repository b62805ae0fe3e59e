/**
 * `node --import @sockkit/adapter-node/register app.js`: `cloudflare:sockets`
 * resolves to the Node emulation for `import`, `import()` and `require()`.
 */
import { installHooks } from "./install-hooks.js";

installHooks({ workerd: false });
