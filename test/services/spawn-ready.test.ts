import { afterEach, expect, test } from "bun:test";
import { resolvePaths } from "../../src/config.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { ServiceManager } from "../../src/daemon/services/manager.ts";
import { createServiceConfig, ServiceState } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { sleep, tempHome } from "../helpers/env.ts";

// The daemon answers while isolation is still being detected (≈ 35 ms of sudo probes); a
// service must not spawn before then, or it could start as the wrong user.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

test("start waits for spawnReady: nothing is spawned before it resolves, then the service runs", async () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let asked = 0;
  const manager = new ServiceManager({
    paths,
    logger: createLogger(null, "info"),
    warnings: new Set(),
    env: t.env,
    spawnReady: () => gate,
    runAs: () => {
      asked++;
      return null;
    },
  });
  await manager.init();
  cleanups.push(() => manager.stopAll(false));

  let started = false;
  const starting = manager.start("s1", createServiceConfig({ command: "/bin/sleep", args: ["30"] })).then(() => (started = true));
  await sleep(100);
  expect(started).toBe(false);
  expect(asked).toBe(0);
  expect(manager.list().find((s) => s.name === "s1")?.state).toBe(ServiceState.STOPPED);

  open();
  await starting;
  expect(asked).toBe(1);
  const info = manager.list().find((s) => s.name === "s1");
  expect(info?.state).toBe(ServiceState.RUNNING);
  expect(info?.pid).toBeGreaterThan(0);
});
