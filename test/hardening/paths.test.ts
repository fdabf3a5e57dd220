import { afterEach, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestDaemon } from "../helpers/daemon.ts";
import { ADI_BIN, pidAlive, sleep, waitFor } from "../helpers/env.ts";

const daemons: TestDaemon[] = [];
const dirs: string[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.cleanup();
  for (const p of pids.splice(0)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A file outside ADI_HOME that a planted symlink points at; it must never change. */
function victim(): { path: string; content: string } {
  const dir = mkdtempSync(join(tmpdir(), "adi-victim-"));
  dirs.push(dir);
  const path = join(dir, "precious");
  const content = "do not touch\n";
  writeFileSync(path, content, { mode: 0o644 });
  return { path, content };
}

test("symlinks planted at the PID, log and socket paths are replaced or refused; their targets are untouched", async () => {
  const d = new TestDaemon();
  daemons.push(d);
  mkdirSync(join(d.home, "logs"), { recursive: true, mode: 0o700 });
  const pid = victim();
  const log = victim();
  const sock = victim();
  symlinkSync(pid.path, d.pidFile);
  symlinkSync(log.path, join(d.home, "logs", "daemon.log"));
  symlinkSync(sock.path, d.socket);
  await d.start();
  // The PID file is a new regular file renamed over the symlink; the socket replaced the symlink.
  expect(lstatSync(d.pidFile).isFile()).toBe(true);
  expect(lstatSync(d.socket).isSocket()).toBe(true);
  // The daemon log is never opened through the symlink: the daemon runs, and says so in status.
  expect(lstatSync(join(d.home, "logs", "daemon.log")).isSymbolicLink()).toBe(true);
  const status = await d.cli(["daemon", "status", "--json"]);
  expect(status.code).toBe(0);
  expect(JSON.stringify(JSON.parse(status.stdout).warnings)).toMatch(/daemon\.log/);
  for (const v of [pid, log, sock]) {
    expect(readFileSync(v.path, "utf8")).toBe(v.content);
    expect(lstatSync(v.path).mode & 0o777).toBe(0o644);
  }
  console.log(`paths: planted symlinks -> pid file replaced, socket replaced, daemon.log refused (status: ${JSON.stringify(JSON.parse(status.stdout).warnings)}); targets untouched`);
}, 60_000);

test("a daemon started under umask 000 never exposes a file or directory to group/other, even for an instant", async () => {
  const d = new TestDaemon();
  daemons.push(d);
  const cmd = process.env.ADI_TEST_CLI === "source" ? `${process.execPath} ${join(import.meta.dir, "../../src/main.ts")}` : ADI_BIN;
  const proc = Bun.spawn(["sh", "-c", `umask 000; exec ${cmd} daemon start`], { env: d.env, stdout: "ignore", stderr: "pipe" });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const exposed = new Set<string>();
  let polls = 0;
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      try {
        const st = lstatSync(p);
        if (st.isSymbolicLink()) continue;
        if (st.mode & 0o077) exposed.add(`${p} ${(st.mode & 0o777).toString(8)}`);
        if (st.isDirectory()) walk(p);
      } catch {}
    }
  };
  const deadline = performance.now() + 20_000;
  while (!exited && performance.now() < deadline) {
    // A tight loop: stat everything, yield to the event loop only now and then.
    for (let i = 0; i < 50; i++) {
      try {
        const st = lstatSync(d.home);
        if (st.mode & 0o077) exposed.add(`${d.home} ${(st.mode & 0o777).toString(8)}`);
      } catch {}
      walk(d.home);
      polls++;
    }
    await sleep(0);
  }
  expect(await proc.exited).toBe(0);
  // A little longer: services and logs are created after the start returns.
  for (let i = 0; i < 200; i++) walk(d.home);
  console.log(`umask 000: ${polls} stat sweeps of ADI_HOME while the daemon started; exposed: ${exposed.size ? [...exposed].join(", ") : "none"}`);
  expect([...exposed]).toEqual([]);
}, 60_000);

test("a PID file naming an unrelated live process is never signalled by stop", async () => {
  const d = new TestDaemon();
  daemons.push(d);
  mkdirSync(d.home, { recursive: true, mode: 0o700 });
  const sleeper = Bun.spawn(["sleep", "1000"], { stdout: "ignore", stderr: "ignore" });
  pids.push(sleeper.pid);
  writeFileSync(d.pidFile, `${sleeper.pid}\n`, { mode: 0o600 });
  const stop = await d.cli(["daemon", "stop"]);
  expect(stop.code).toBe(3);
  const status = await d.cli(["daemon", "status"]);
  expect(status.code).toBe(3);
  await sleep(300);
  expect(pidAlive(sleeper.pid)).toBe(true);
  // A daemon started now claims the PID file for itself and stops cleanly; the sleep lives on.
  await d.start();
  await waitFor(() => d.pid() !== sleeper.pid, 5_000, "the PID file to name the daemon");
  expect((await d.cli(["daemon", "stop"])).code).toBe(0);
  expect(pidAlive(sleeper.pid)).toBe(true);
  console.log(`pid file: stop with a PID file naming a live sleep (${sleeper.pid}) exited ${stop.code}; the sleep is alive`);
}, 60_000);
