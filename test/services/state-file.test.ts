import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolvePaths } from "../../src/config.ts";
import { preparePaths } from "../../src/daemon/instance.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { ServiceManager } from "../../src/daemon/services/manager.ts";
import { reapLeftovers } from "../../src/daemon/services/recovery.ts";
import { readState, writeState } from "../../src/daemon/services/state-store.ts";
import { processAlive } from "../../src/util/process-alive.ts";
import { tempHome, waitFor } from "../helpers/env.ts";
import { createServiceConfig } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";

// state.json is the daemon's own file in the owner's 0700 ADI_HOME, but it may be edited by hand or
// damaged. A bad entry must never be acted on: a child record with sid 1 made the next daemon call
// kill(-1, SIGKILL) (as root: every process on the host), sid 0 made it kill its own group, a null
// entry or a service without argv stopped it from starting, and an ad-hoc name `../../x` put the
// service's log outside logs/. Each bad entry is dropped with a warning; the good ones are kept.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const spec = (argv: string[], extra: Record<string, unknown> = {}) => ({
  argv,
  env: {},
  restartOnFailure: true,
  maxRestarts: 5,
  stopTimeoutMs: 10_000,
  stopSignal: "SIGTERM",
  ...extra,
});

test("readState keeps the valid entries and names each one it drops", () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const file = `${t.home}-state.json`; // beside the (not yet created) home, inside its temporary directory
  const child = { name: "ok", pid: 0x3ffffff0, pgid: 0x3ffffff0, sid: 0x3ffffff0, startTime: 12 };
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      services: { ok: { desired: true, adhoc: spec(["/bin/sleep", "30"]) }, nul: null, word: "yes", nodesire: { adhoc: {} } },
      children: [child, { ...child, sid: 1 }, { ...child, sid: 0 }, { ...child, pgid: -1 }, { ...child, pid: 2.5 }, null, "x", { ...child, startTime: "soon" }, { ...child, sid: 4242 }],
    }),
  );
  const { state, problems } = readState(file);
  expect(Object.keys(state.services)).toEqual(["ok"]);
  expect(state.children).toEqual([child]);
  expect(problems.filter((p) => p.includes("service entry")).length).toBe(3);
  expect(problems.filter((p) => p.includes("child record")).length).toBe(8);
  expect(problems.every((p) => p.startsWith(file))).toBe(true);
});

test("a daemon starting on a damaged state.json starts, keeps the valid ad-hoc services and drops the others with a warning each", async () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  writeFileSync(
    paths.stateFile,
    JSON.stringify({
      version: 1,
      services: {
        good: { desired: false, adhoc: spec(["/bin/sleep", "30"]) },
        "../../escaped": { desired: true, adhoc: spec(["/bin/sleep", "30"]) },
        slowstop: { desired: true, adhoc: spec(["/bin/sleep", "30"], { stopTimeoutMs: 3_000_000_000 }) },
        noargv: { desired: true, adhoc: {} },
        badhealth: { desired: true, adhoc: spec(["/bin/sleep", "30"], { health: { probe: { kind: "carrier pigeon" } } }) },
        probed: { desired: false, adhoc: spec(["/bin/sleep", "30"], { health: { probe: { kind: "tcp", host: "::1", port: 8080 }, intervalMs: 5000, timeoutMs: 2000, failureThreshold: 3 } }) },
      },
      children: [{ name: "good", pid: 999_999_999, pgid: 1, sid: 1, startTime: 1 }],
    }),
  );
  const warnings = new Set<string>();
  const manager = new ServiceManager({ paths, logger: createLogger(null, "error"), warnings, env: t.env, runAs: () => null });
  // Registered first: an init that started services and then threw must not leave them running.
  cleanups.push(() => manager.stopAll(false));
  const realKill = process.kill;
  const signalled: number[] = [];
  // Every call is recorded; only ids that name someone else's process or group are passed on, so a
  // broken guard fails this test instead of signalling -1 (every process) or the runner's group.
  const passedOn = (pid: number) => (pid > 1 && pid !== process.pid) || (pid < -1 && pid !== -process.pid);
  process.kill = ((pid: number, signal?: string | number) => {
    signalled.push(pid);
    return passedOn(pid) ? realKill(pid, signal as NodeJS.Signals) : true;
  }) as typeof process.kill;
  try {
    await manager.init();
  } finally {
    process.kill = realKill;
  }
  expect(signalled.filter((pid) => pid === -1 || pid === 0 || pid === 1)).toEqual([]);
  expect(manager.list().map((s) => s.name)).toEqual(["good", "probed"]);
  const text = [...warnings].join("\n");
  for (const dropped of ["escaped", "slowstop", "noargv", "badhealth"]) expect(text).toContain(dropped);
  expect(text).toContain("child record");
  expect(existsSync(join(t.home, "escaped.log"))).toBe(false);
  // What the daemon writes back holds only what it kept.
  const saved = JSON.parse(readFileSync(paths.stateFile, "utf8"));
  expect(Object.keys(saved.services).sort()).toEqual(["good", "probed"]);
  expect(saved.services.probed.adhoc.health.probe).toEqual({ kind: "tcp", host: "::1", port: 8080 });
});

test.skipIf(process.platform !== "linux")("a recorded pid that now belongs to another process is left alone, and so is the group that now has its id", async () => {
  // `set -m` puts the background sleep in a process group of its own (pgid = its pid) inside this
  // session: as if a crashed daemon's service pid had been reused by a stranger's group leader.
  const shell = Bun.spawn(["/bin/sh", "-c", "set -m; sleep 30.417 & echo $!; wait"], { stdout: "pipe", stderr: "ignore" });
  const { value } = await shell.stdout.getReader().read();
  const stranger = Number(new TextDecoder().decode(value).trim());
  try {
    const logged: string[] = [];
    await reapLeftovers([{ name: "old", pid: stranger, pgid: stranger, sid: stranger, startTime: 1 }], (msg) => logged.push(msg));
    await Bun.sleep(100);
    expect(processAlive(stranger)).toBe(true);
    expect(logged).toEqual(["leftover record skipped: its pid now belongs to another process"]);
  } finally {
    try {
      process.kill(stranger, "SIGKILL");
    } catch {}
    shell.kill("SIGKILL");
    await shell.exited;
  }
});

test("a state.json the daemon cannot use is kept aside, not overwritten with an empty state", async () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  const truncated = JSON.stringify({ version: 1, services: { web: { desired: true, adhoc: spec(["/bin/sleep", "30"]) } }, children: [] }).slice(0, 60);
  writeFileSync(paths.stateFile, truncated);
  const warnings = new Set<string>();
  const manager = new ServiceManager({ paths, logger: createLogger(null, "error"), warnings, env: t.env, runAs: () => null });
  cleanups.push(() => manager.stopAll(false));
  await manager.init();
  const aside = readdirSync(paths.home).filter((f) => f.startsWith("state.json.corrupt-"));
  expect(aside.length).toBe(1);
  expect(readFileSync(join(paths.home, aside[0]!), "utf8")).toBe(truncated);
  expect([...warnings].join("\n")).toContain(`kept as ${join(paths.home, aside[0]!)}`);
  expect(readState(paths.stateFile).problems).toEqual([]); // the daemon's own, valid state
});

test.skipIf(!Bun.which("prlimit"))("writeState never replaces the state with a short write (a full disk): the old file stays", () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  mkdirSync(t.home, { recursive: true, mode: 0o700 });
  const path = join(t.home, "state.json");
  writeState(path, { version: 1, services: { old: { desired: true } }, children: [] });
  const before = readFileSync(path, "utf8");
  // A file size limit of 1,000 bytes: the kernel takes the first 1,000 bytes of a larger write and
  // refuses the rest (EFBIG), as a filling disk does with ENOSPC.
  const script = `import { writeState } from ${JSON.stringify(join(import.meta.dir, "../../src/daemon/services/state-store.ts"))};
    process.on("SIGXFSZ", () => {});
    try { writeState(${JSON.stringify(path)}, { version: 1, services: { big: { desired: true, adhoc: { argv: ["${"x".repeat(5_000)}"] } } }, children: [] }); console.log("written"); }
    catch (e) { console.log("refused " + e.message); }`;
  const child = Bun.spawnSync(["prlimit", "--fsize=1000", process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  expect(child.stdout.toString()).toStartWith("refused EFBIG");
  expect(readFileSync(path, "utf8")).toBe(before);
  expect(existsSync(`${path}.tmp`)).toBe(false);
});

test("services get the home the daemon resolved, not a relative ADI_HOME (it would name another directory in theirs)", async () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  const manager = new ServiceManager({ paths, logger: createLogger(null, "error"), warnings: new Set(), env: { ...t.env, ADI_HOME: "./rel" }, runAs: () => null });
  cleanups.push(() => manager.stopAll(false));
  await manager.init();
  await manager.start("env", createServiceConfig({ command: "/bin/sh", args: ["-c", 'echo "home=$ADI_HOME"'], workingDir: "/tmp", restartOnFailure: false }));
  // Not "home=": the log's "adi started … echo \"home=$ADI_HOME\"" line has that too; the service's own line has it after its tag.
  await waitFor(() => readFileSync(join(paths.serviceLogDir, "env.log"), "utf8").includes(" home="), 5_000, "the service's line");
  expect(readFileSync(join(paths.serviceLogDir, "env.log"), "utf8")).toContain(`home=${paths.home}\n`);
});

test("a start refused because the daemon is shutting down is not recorded as wanted", async () => {
  const t = tempHome();
  cleanups.push(t.cleanup);
  const paths = resolvePaths(t.env);
  preparePaths(paths);
  const manager = new ServiceManager({ paths, logger: createLogger(null, "error"), warnings: new Set(), env: t.env, runAs: () => null });
  cleanups.push(() => manager.stopAll(false));
  await manager.init();
  await manager.start("later", createServiceConfig({ command: "/bin/sleep", args: ["30"] }));
  await manager.resolve("later").stop(false);
  const shutdown = manager.stopAll(true);
  await expect(manager.start("later")).rejects.toThrow("the daemon is shutting down");
  await shutdown;
  // It used to be marked wanted (and saved so with the next write), and the next daemon started it
  // although the user was told it did not start.
  expect(manager.resolve("later").desired).toBe(false);
  expect(readState(paths.stateFile).state.services.later?.desired).toBe(false);
});
