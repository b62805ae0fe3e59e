// The test services (socket servers, Redis, MQTT brokers) are started once per test command: `npm test`
// starts them in one Node process (harness/services-main.ts) and names a file with their addresses in
// SOCKKIT_SERVICES; each Vitest run's globalSetup then hands those to its tests. A Vitest run on its own
// (no SOCKKIT_SERVICES) starts its own, as before.
import { readFileSync } from "node:fs";
import type { ProvidedContext } from "vitest";
import type { TestProject } from "vitest/node";

/** Running services: what tests are given, and how to stop them. */
export interface Running<T> {
  env: T;
  close(): Promise<void>;
}

/** The environment variable naming the JSON file of already running services. */
export const SERVICES_ENV = "SOCKKIT_SERVICES";

/** What the services `npm test` started provide for `key`, or undefined when this run must start its own. */
export function sharedServices<K extends keyof ProvidedContext>(key: K): ProvidedContext[K] | undefined {
  const file = process.env[SERVICES_ENV];
  if (!file) return undefined;
  const all = JSON.parse(readFileSync(file, "utf8")) as Partial<ProvidedContext>;
  if (all[key] === undefined) throw new Error(`${SERVICES_ENV} (${file}) has no "${key}" services`);
  return all[key];
}

/** A Vitest globalSetup that provides `key`: the shared services if there are, else ones it starts and stops. */
export function provideServices<K extends keyof ProvidedContext>(
  key: K,
  start: () => Promise<Running<ProvidedContext[K]>>,
): (project: TestProject) => Promise<() => Promise<void>> {
  return async (project) => {
    const shared = sharedServices(key);
    if (shared !== undefined) {
      project.provide(key, shared);
      return async () => {};
    }
    const running = await start();
    project.provide(key, running.env);
    return () => running.close();
  };
}
