// A Vitest setup file for every Node test file: after the file's own afterAll hooks (hooks run in
// reverse, and a setup file registers first), no socket, TLS stream or timer of the test process is
// left. A destroyed socket's handle closes a turn of the event loop later, so it polls for up to a
// second before it fails. The test servers run in the main process (globalSetup), not counted here.
import { afterAll, expect } from "vitest";

const LEAKABLE = /TCP|TLS|Timeout/;

afterAll(async () => {
  const ours = () => process.getActiveResourcesInfo().filter((name) => LEAKABLE.test(name));
  for (let i = 0; i < 40 && ours().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(ours(), "sockets or timers left open by this test file").toEqual([]);
});
