// The Chromium the page test drives: CHROMIUM_PATH, else the system's, else the one the npm
// package @sparticuz/chromium carries (a fresh machine has no browser; nothing is downloaded).
import { existsSync } from "node:fs";

/** Where Debian, Ubuntu and Fedora put their Chromium (or Chrome). */
export const SYSTEM_CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

export interface FoundChromium {
  path: string;
  source: "CHROMIUM_PATH" | "system" | "@sparticuz/chromium";
}

export async function findChromium({
  env = process.env,
  systemPaths = SYSTEM_CHROMIUM,
}: { env?: Record<string, string | undefined>; systemPaths?: readonly string[] } = {}): Promise<FoundChromium> {
  const chosen = env.CHROMIUM_PATH;
  if (chosen !== undefined && chosen !== "") {
    // A path the user set and got wrong is an error, not a reason to pick another browser.
    if (!existsSync(chosen)) throw new Error(`CHROMIUM_PATH is ${chosen}, which does not exist`);
    return { path: chosen, source: "CHROMIUM_PATH" };
  }
  const system = systemPaths.find((path) => existsSync(path));
  if (system) return { path: system, source: "system" };
  // Unpacks its brotli-compressed build into the temp folder once (about 1.5 s), then reuses it.
  const { default: packaged } = await import("@sparticuz/chromium");
  return { path: await packaged.executablePath(), source: "@sparticuz/chromium" };
}

/** Flags for a headless run on a machine with no network but loopback (see the README). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
