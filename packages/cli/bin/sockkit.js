#!/usr/bin/env node
// The `sockkit` executable. npm links a package's bin only if the file exists when it installs, and in
// this repository `npm ci` runs before the build: so the linked file is this committed one, and it
// loads the built CLI.
import { existsSync } from "node:fs";

const built = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(built)) {
  console.error("sockkit: the CLI is not built (dist/bin.js is missing): run `npm run build` in the repository");
  process.exit(1);
}
await import(built.href);
