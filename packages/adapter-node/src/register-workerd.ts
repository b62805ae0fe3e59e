/**
 * `node --import @sockkit/adapter-node/register-workerd app.js`: like
 * `/register`, and `import` also prefers packages' `workerd` export
 * condition, so libraries load their Workers build on Node. For `require()`,
 * add `--conditions=workerd` (Node 20 cannot change CommonJS conditions at run time).
 */
import { installHooks } from "./install-hooks.js";

installHooks({ workerd: true });
