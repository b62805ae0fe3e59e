// For the Node-side tests that import `cloudflare:sockets` through the Vitest helper.
declare module "cloudflare:sockets" {
  export const connect: import("@sockkit/core").Connect;
}
