/**
 * `deno run -A --conditions=workerd --preload npm:@sockkit/adapter-node/register-workerd app.js`: like
 * `/register`, with packages' Workers builds. Deno takes conditions only as a flag (or DENO_CONDITIONS),
 * so this checks that it was given and says how otherwise.
 */
import { installDenoHooks } from "./deno-hooks.js";
import { assertWorkerdCondition } from "./workerd-condition.js";

assertWorkerdCondition("deno run -A --conditions=workerd --preload npm:@sockkit/adapter-node/register-workerd app.js");
installDenoHooks();
