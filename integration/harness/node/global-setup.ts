import type { TestProject } from "vitest/node";
import { startSocketServers, type SocketTestEnv } from "./servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    sockets: SocketTestEnv;
  }
}

/** Starts the test servers in Node (nothing can listen inside workerd) and hands their ports to the tests. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers = await startSocketServers();
  project.provide("sockets", servers.env);
  return () => servers.close();
}
