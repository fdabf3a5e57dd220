import { afterEach, expect, test } from "bun:test";
import { resolvePaths } from "../../src/config.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { ServiceManager } from "../../src/daemon/services/manager.ts";
import { createServiceConfig, ServiceState } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { recordTimeouts, sleep, tempHome, waitFor } from "../helpers/env.ts";

// A ServiceManager with real children and no daemon around it: when it spawns, and what it
// lists. The daemon
// answers while isolation is still being detected (≈ 35 ms of sudo probes); a service must
// not spawn before then, or it could start as the wrong user (which services wait is the
// privilege model's answer, asked per service: a plugin's; test/privilege/detection.test.ts). And a crashed service's first
// restart must not wait on a timer.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A manager on a fresh ADI_HOME that counts its spawns (runAs is asked once per spawn); stopped after the test. */
async function countingManager(spawnReady?: (spec: { name: string }) => Promise<void>): Promise<{ manager: ServiceManager; spawns: () => number }> {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  let spawns = 0;
  const manager = new ServiceManager({
    paths,
    logger: createLogger(null, "info"),
    warnings: new Set(),
    env: t.env,
    spawnReady,
    runAs: () => {
      spawns++;
      return null;
    },
  });
  await manager.init();
  cleanups.push(() => manager.stopAll(false));
  return { manager, spawns: () => spawns };
}

test("start waits for spawnReady: nothing is spawned before it resolves, then the service runs", async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const { manager, spawns } = await countingManager(() => gate);

  let started = false;
  const starting = manager.start("s1", createServiceConfig({ command: "/bin/sleep", args: ["30"] })).then(() => (started = true));
  await sleep(100);
  expect(started).toBe(false);
  expect(spawns()).toBe(0);
  expect(manager.list().find((s) => s.name === "s1")?.state).toBe(ServiceState.STOPPED);

  open();
  await starting;
  expect(spawns()).toBe(1);
  const info = manager.list().find((s) => s.name === "s1");
  expect(info?.state).toBe(ServiceState.RUNNING);
  expect(info?.pid).toBeGreaterThan(0);
});

test("spawnReady is asked per service: one whose gate is open runs while another's waits", async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const { manager, spawns } = await countingManager((spec) => (spec.name === "gated" ? gate : Promise.resolve()));
  let gatedStarted = false;
  const gated = manager.start("gated", createServiceConfig({ command: "/bin/sleep", args: ["30"] })).then(() => (gatedStarted = true));
  const free = manager.start("free", createServiceConfig({ command: "/bin/sleep", args: ["30"] }));
  try {
    await Promise.race([free, sleep(2_000)]); // bounded: a gate that holds "free" too must fail here, not hang
    await sleep(100);
    expect(spawns()).toBe(1);
    expect(gatedStarted).toBe(false);
    expect(manager.list().find((s) => s.name === "free")?.state).toBe(ServiceState.RUNNING);
    expect(manager.list().find((s) => s.name === "gated")?.state).toBe(ServiceState.STOPPED);
  } finally {
    open(); // the waiting one starts, even when an assertion failed: the cleanup's stop waits behind it
  }
  await Promise.all([free, gated]);
  expect(spawns()).toBe(2);
});

test("a first crash is restarted at once, not through a timer (Bun's setTimeout(0) can wait ≈ 1 ms)", async () => {
  const { manager, spawns } = await countingManager();
  await manager.start("s1", createServiceConfig({ command: "/bin/sleep", args: ["30"], restartOnFailure: true, maxRestarts: 5 }));
  const first = manager.list().find((s) => s.name === "s1")!.pid!;

  const timeouts = recordTimeouts();
  try {
    process.kill(first, "SIGKILL");
    for (let i = 0; i < 500 && spawns() < 2; i++) await sleep(10);
  } finally {
    timeouts.restore();
  }
  expect(spawns()).toBe(2);
  expect(manager.list().find((s) => s.name === "s1")!.pid).not.toBe(first);
  expect(timeouts.delays).not.toContain(0);
});

test("a crash while a user's restart waits for its turn is restarted after it, not beside it", async () => {
  // The first crash of a service respawns at once, from the exit handler, when no user operation
  // is queued (one state write, after the spawn); while one is, the restart waits behind it.
  let gate: Promise<void> = Promise.resolve();
  const { manager, spawns } = await countingManager(() => gate);
  await manager.start("s1", createServiceConfig({ command: "/bin/sleep", args: ["30"], restartOnFailure: true, maxRestarts: 5 }));
  const first = manager.list().find((s) => s.name === "s1")!.pid!;
  let open!: () => void;
  gate = new Promise<void>((r) => (open = r));
  const restarting = manager.resolve("s1").restart(); // waits at spawnReady
  try {
    process.kill(first, "SIGKILL");
    await waitFor(() => manager.list().find((s) => s.name === "s1")!.state === ServiceState.BACKOFF, 10_000, "s1 in BACKOFF");
    await sleep(100);
    expect(manager.list().find((s) => s.name === "s1")!.state).toBe(ServiceState.BACKOFF);
    expect(spawns()).toBe(1); // the crash's restart waits behind the user's
  } finally {
    open();
  }
  await restarting;
  await sleep(50); // the crash's queued restart runs next, and finds the service running
  expect(spawns()).toBe(2);
  const info = manager.list().find((s) => s.name === "s1")!;
  expect(info.state).toBe(ServiceState.RUNNING);
  expect(info.pid).not.toBe(first);
});

test("each list() shows the services as they are then, by name, though it reuses one object per service", async () => {
  const { manager } = await countingManager();
  await manager.start("b", createServiceConfig({ command: "/bin/sleep", args: ["30"] }));
  const first = manager.list();
  expect(first).toHaveLength(1);
  expect(first[0]).toMatchObject({ name: "b", state: ServiceState.RUNNING, command: "/bin/sleep 30" });
  const pid = first[0]!.pid!;
  expect(pid).toBeGreaterThan(0);

  await manager.resolve("b").stop(false);
  expect(manager.list()[0]).toMatchObject({ name: "b", state: ServiceState.STOPPED, pid: 0 });

  // A redefinition shows its own command; a new service takes its place by name.
  await manager.start("b", createServiceConfig({ command: "/bin/sleep", args: ["31"] }));
  await manager.start("a", createServiceConfig({ command: "/bin/sleep", args: ["32"] }));
  const last = manager.list();
  expect(last.map((s) => [s.name, s.command, s.state])).toEqual([
    ["a", "/bin/sleep 32", ServiceState.RUNNING],
    ["b", "/bin/sleep 31", ServiceState.RUNNING],
  ]);
  expect(last[1]!.pid).not.toBe(pid);
});
