/**
 * `bun --conditions=workerd --preload @sockkit/adapter-node/register-workerd app.js`: like
 * `/register`, with packages' Workers builds. Bun takes conditions only as a flag, so this checks
 * that the flag was given and says how otherwise.
 */
import { installBunPlugin } from "./bun-plugin.js";
import { assertWorkerdCondition } from "./workerd-condition.js";

assertWorkerdCondition("bun --conditions=workerd --preload @sockkit/adapter-node/register-workerd app.js");
installBunPlugin();
