import { provideServices, type Running } from "./services.js";
import { startSocketServers, type SocketTestEnv } from "./servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    sockets: SocketTestEnv;
  }
}

/** Starts the test servers in Node (nothing can listen inside workerd). */
export const startSocketServices = (): Promise<Running<SocketTestEnv>> => startSocketServers();

/** Hands the test servers' ports to the tests. */
export default provideServices("sockets", startSocketServices);
