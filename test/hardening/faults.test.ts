import { afterEach, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { pidAlive, ROOT, sleep, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, serviceProcesses, serviceSessions, sessionProcesses, waitForState } from "../services/helpers.ts";
import { daemonsOf } from "./lib.ts";

const mounts: string[] = [];
const dirs: string[] = [];
afterEach(async () => {
  // Detach the tmpfs first (lazy: the daemon may still hold files on it), so the home can be removed.
  for (const m of mounts.splice(0)) Bun.spawnSync(["umount", "-l", m]);
  await cleanupDaemons();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const FORKER = ["sh", "-c", "sleep 1000 & sleep 1000 & wait"];

test("kill -9 of the daemon in the middle of load and a log flood: the next start runs every wanted service once, no orphan", async () => {
  const d = newDaemon();
  await d.start();
  const c = d.client({ timeoutMs: 5_000 });
  await c.startService("flood", { command: "sh", args: ["-c", "yes 'flood line flood line flood line'"] });
  await c.startService("forker-a", { command: FORKER[0]!, args: FORKER.slice(1) });
  await c.startService("forker-b", { command: FORKER[0]!, args: FORKER.slice(1) });
  await c.startService("parked", { command: "sleep", args: ["1000"] });
  await c.stopService("parked");
  const before = new Map<string, number>();
  for (const n of ["flood", "forker-a", "forker-b"]) before.set(n, (await waitForState(d, n, ServiceState.RUNNING)).pid);

  // Load on 20 connections, then the kill in the middle of it.
  let loading = true;
  let served = 0;
  const clients = Array.from({ length: 20 }, () => d.client({ timeoutMs: 3_000 }));
  const load = clients.map(async (cl, i) => {
    while (loading) {
      try {
        await (i % 2 ? cl.ping() : cl.listServices());
        served++;
      } catch {
        return;
      }
    }
  });
  await sleep(1_000);
  const daemonPid = d.pid()!;
  process.kill(daemonPid, "SIGKILL");
  await waitFor(() => !pidAlive(daemonPid), 5_000, "daemon death");
  loading = false;
  await Promise.all(load);
  for (const cl of clients) cl.close();
  c.close();

  const r = await d.cli(["daemon", "start"]);
  expect(r.code).toBe(0);
  for (const [name, oldPid] of before) {
    const info = await waitForState(d, name, ServiceState.RUNNING);
    expect(info.pid).not.toBe(oldPid);
    await waitFor(() => sessionProcesses(oldPid).length === 0, 5_000, `${name}'s old generation to be gone`);
  }
  await waitFor(() => serviceSessions(d, "forker-a").size === 1 && serviceSessions(d, "forker-b").size === 1, 5_000, "one generation each");
  for (const name of before.keys()) expect(serviceSessions(d, name).size).toBe(1);
  expect(serviceProcesses(d, "parked")).toEqual([]);
  const c2 = d.client();
  expect((await c2.listServices()).find((s) => s.name === "parked")?.state).toBe(ServiceState.STOPPED);
  c2.close();
  expect(daemonsOf(d.home).length).toBe(1);
  console.log(`kill -9 under load: ${served} requests served before the kill; after restart ${before.size} wanted services run once each, the stopped one stays stopped, no orphan`);
}, 90_000);

test("a full log filesystem (1 MiB tmpfs): services keep running, status shows the error, nothing crashes", async () => {
  if (process.getuid?.() !== 0 || process.platform !== "linux") {
    console.log("SKIP full log filesystem: needs root to mount a tmpfs");
    return;
  }
  const d = newDaemon();
  const logs = join(d.home, "logs");
  mkdirSync(logs, { recursive: true, mode: 0o700 });
  chmodSync(d.home, 0o700);
  const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", logs]);
  if (m.exitCode !== 0) {
    console.log(`SKIP full log filesystem: mount failed: ${m.stderr.toString().trim()}`);
    return;
  }
  mounts.push(logs);
  await d.start();
  const c = d.client();
  await c.startService("chatty", { command: "sh", args: ["-c", "yes 'a line that fills the disk a line that fills the disk'"] });
  const { pid } = await waitForState(d, "chatty", ServiceState.RUNNING);
  let warnings: string[] = [];
  await waitFor(async () => {
    warnings = (await c.status()).warnings;
    return warnings.some((w) => /chatty\.log/.test(w) && /ENOSPC|no space/i.test(w));
  }, 20_000, "status to report the full disk");
  await sleep(2_000);
  const info = (await c.listServices()).find((s) => s.name === "chatty")!;
  expect(info.state).toBe(ServiceState.RUNNING);
  expect(info.pid).toBe(pid);
  // Lines still reach the ring (and so `logs`).
  const recent = await c.logs("chatty", { lines: 5 });
  expect(recent.length).toBeGreaterThan(0);
  const status = await d.cli(["daemon", "status"]);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/warning/);
  console.log(`full disk: status warnings: ${JSON.stringify(warnings)}`);
  await c.stopService("chatty", { force: true });
  c.close();
}, 90_000);

test("SIGHUP reopens the daemon log and the service logs (logrotate: rename, then HUP)", async () => {
  const d = newDaemon();
  await d.start();
  const c = d.client();
  await c.startService("ticker", { command: "sh", args: ["-c", "while :; do echo tick; sleep 0.1; done"] });
  const daemonLog = join(d.home, "logs", "daemon.log");
  const serviceLog = join(d.home, "logs", "services", "ticker.log");
  await waitFor(() => existsSync(serviceLog) && readFileSync(serviceLog, "utf8").includes("tick"), 5_000, "ticks in the service log");
  renameSync(daemonLog, `${daemonLog}.1`);
  renameSync(serviceLog, `${serviceLog}.1`);
  process.kill(d.pid()!, "SIGHUP");
  await waitFor(() => existsSync(daemonLog) && existsSync(serviceLog), 5_000, "new log files");
  await c.startService("second", { command: "sleep", args: ["1000"] });
  await waitFor(() => readFileSync(daemonLog, "utf8").includes("second"), 5_000, "a new daemon log line in the new file");
  await waitFor(() => readFileSync(serviceLog, "utf8").includes("tick"), 5_000, "new ticks in the new service log");
  const oldDaemon = readFileSync(`${daemonLog}.1`, "utf8");
  expect(oldDaemon).not.toMatch(/second/);
  // The rotated service log stops growing.
  const size = statSync(`${serviceLog}.1`).size;
  await sleep(500);
  expect(statSync(`${serviceLog}.1`).size).toBe(size);
  expect(statSync(daemonLog).mode & 0o777).toBe(0o600);
  expect(statSync(serviceLog).mode & 0o777).toBe(0o600);
  console.log("SIGHUP: daemon.log and services/ticker.log reopened after a rename; the old files stopped growing");
  c.close();
}, 60_000);

test("a service whose binary disappears between restarts ends FAILED with a clear reason", async () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-vanish-"));
  dirs.push(dir);
  const bin = join(dir, "flaky");
  writeFileSync(bin, "#!/bin/sh\nsleep 0.3\nexit 1\n", { mode: 0o755 });
  const d = newDaemon();
  await d.start();
  const c = d.client();
  await c.startService("vanish", { command: bin, restartOnFailure: true, maxRestarts: 5 });
  await waitForState(d, "vanish", ServiceState.RUNNING);
  rmSync(bin);
  let info = (await c.listServices()).find((s) => s.name === "vanish")!;
  await waitFor(async () => {
    info = (await c.listServices()).find((s) => s.name === "vanish")!;
    return info.state === ServiceState.FAILED;
  }, 20_000, "FAILED");
  expect(info.lastError).toContain(bin);
  expect(info.lastError).toMatch(/not found|no such file|ENOENT|does not exist/i);
  console.log(`vanished binary: FAILED, last_error: ${info.lastError}`);
  // The daemon is fine.
  await c.ping();
  c.close();
}, 60_000);

test("uptime and backoff use monotonic time, never the wall clock", () => {
  // The host's clock is not jumped on a shared CI box (no CAP_SYS_TIME guarantee,
  // and it would disturb every other process; clock-jump.test.ts moves only the
  // daemon's, with libfaketime): here, no timing code in the daemon may read the wall clock. Date is
  // allowed only for timestamps shown to people (logs, audit log, event time_unix_ms).
  const files = ["src/daemon/context.ts", "src/daemon/services/service.ts", "src/daemon/services/policy.ts", "src/daemon/services/manager.ts", "src/daemon/server.ts"];
  const offenders: string[] = [];
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), "utf8");
    text.split("\n").forEach((line, i) => {
      if (/Date\.now\(\)|new Date\(\)\.getTime|process\.hrtime/.test(line) && !/timeUnixMs/.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(offenders).toEqual([]);
  expect(readFileSync(join(ROOT, "src/daemon/context.ts"), "utf8")).toMatch(/performance\.now\(\)/);
  expect(readdirSync(join(ROOT, "src/daemon/services")).length).toBeGreaterThan(0);
});
