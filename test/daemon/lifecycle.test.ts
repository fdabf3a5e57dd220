import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { TestDaemon } from "../helpers/daemon.ts";
import { ADI_BIN, killCarrying, pidAlive, sleep, waitFor } from "../helpers/env.ts";
import { daemonsOf } from "../hardening/lib.ts";

const daemons: TestDaemon[] = [];
function newDaemon(): TestDaemon {
  const d = new TestDaemon();
  daemons.push(d);
  return d;
}
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
});

/**
 * `d`'s home as a relative ADI_HOME, from the directory above its temporary
 * directory: "adi-t-XXXX/h", unique to this run, so killing what carries it
 * and removing a stray copy touch nothing of anyone else's. The other paths
 * follow from it. `astray` is where a daemon running in / would have put it;
 * `clearAstray()` removes that, if this test made it.
 */
function relativeHome(d: TestDaemon) {
  const cwd = join(d.home, "..", "..");
  const home = relative(cwd, d.home);
  const env: Record<string, string> = { ...d.env, ADI_HOME: home };
  for (const key of ["ADI_DAEMON_SOCKET", "ADI_DAEMON_PID", "ADI_DAEMON_LOG"]) delete env[key];
  const astray = join("/", home.split("/")[0]!);
  const astrayBefore = existsSync(astray);
  return {
    cwd,
    home,
    env,
    clearAstray() {
      if (!astrayBefore) rmSync(astray, { recursive: true, force: true });
    },
  };
}

describe("daemon lifecycle (compiled binary)", () => {
  test("status says not running with exit 3, in text and JSON", async () => {
    const d = newDaemon();
    const text = await d.cli(["daemon", "status"]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain("not running");
    const json = await d.cli(["daemon", "status", "--json"]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ running: false });
  });

  test("start, status, stop round trip", async () => {
    const d = newDaemon();
    const started = await d.cli(["daemon", "start"]);
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/started \(pid \d+\)/);
    const pid = d.pid()!;
    expect(pidAlive(pid)).toBe(true);

    const status = await d.cli(["daemon", "status", "--json"]);
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout);
    expect(doc).toMatchObject({ running: true, pid, socket: d.socket, version: expect.any(String) });
    expect(doc.uptime_secs).toBeGreaterThanOrEqual(0);

    const human = await d.cli(["daemon", "status"]);
    expect(human.stdout).toContain("running");
    expect(human.stdout).toContain(`${pid}`);
    expect(human.stdout).not.toContain("\x1b["); // piped: no colour

    const again = await d.cli(["daemon", "start"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already running");
    expect(d.pid()).toBe(pid);

    const stopped = await d.cli(["daemon", "stop"]);
    expect(stopped.code).toBe(0);
    expect(pidAlive(pid)).toBe(false);
    expect(existsSync(d.socket)).toBe(false);
    expect(existsSync(d.pidFile)).toBe(false);
    expect((await d.cli(["daemon", "status"])).code).toBe(3);
    expect((await d.cli(["daemon", "stop"])).code).toBe(3);
  });

  test("socket is 0600 and ADI_HOME 0700, even under umask 000", async () => {
    const d = newDaemon();
    // sh only sets the umask for the test; adi itself never uses a shell.
    const proc = Bun.spawn(["sh", "-c", 'umask 000; exec "$0" daemon start', ADI_BIN], { env: d.env });
    expect(await proc.exited).toBe(0);
    expect(statSync(d.socket).mode & 0o777).toBe(0o600);
    expect(statSync(d.home).mode & 0o777).toBe(0o700);
    expect(statSync(d.pidFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(d.home, "logs", "daemon.log")).mode & 0o777).toBe(0o600);
  });

  test("a second daemon that finds one running leaves the running one's directory modes alone", async () => {
    const d = newDaemon();
    await d.start();
    // What isolation does once a plugin service runs as ADI_USER (privilege/socket-access.ts).
    chmodSync(d.home, 0o711);
    chmodSync(join(d.home, "plugins"), 0o711);
    const second = Bun.spawn([...d.argv0, "daemon", "run"], { env: d.env, stdout: "ignore", stderr: "pipe" });
    expect(await second.exited).toBe(0);
    expect(await new Response(second.stderr).text()).toContain("a daemon is already running");
    // It used to make them 0700 before it found the lock taken: the plugin services lost the socket.
    expect(statSync(d.home).mode & 0o777).toBe(0o711);
    expect(statSync(join(d.home, "plugins")).mode & 0o777).toBe(0o711);
  });

  test("ten concurrent starts give one daemon and all exit 0", async () => {
    const d = newDaemon();
    const results = await Promise.all(Array.from({ length: 10 }, () => d.cli(["daemon", "start"])));
    for (const r of results) expect(r.code).toBe(0);
    const pid = d.pid()!;
    for (const r of results) expect(r.stdout).toContain(`pid ${pid}`);
    // Losers of the lock exit on their own; only the winner remains.
    await waitFor(() => daemonsOf(d.home).length === 1, 5_000, "losing daemons to exit");
    expect(daemonsOf(d.home)).toEqual([pid]);
  });

  test.skipIf(process.platform !== "linux")("cleanup also kills what carries the home but is in no PID file", async () => {
    // (a daemon that lost a start race and took over once the winner was stopped: a CI run left one)
    const d = new TestDaemon();
    await d.start();
    const straggler = Bun.spawn(["sleep", "1000"], { env: d.env, stdout: "ignore", stderr: "ignore" });
    try {
      await d.cleanup();
      await Promise.race([straggler.exited, Bun.sleep(2_000)]);
      expect(straggler.signalCode).toBe("SIGKILL");
      expect(existsSync(d.home)).toBe(false);
    } finally {
      straggler.kill("SIGKILL");
    }
  });

  test("after kill -9 the next start recovers the stale socket and PID file", async () => {
    const d = newDaemon();
    await d.start();
    const old = d.pid()!;
    process.kill(old, "SIGKILL");
    await waitFor(() => !pidAlive(old), 5_000, "daemon death");
    expect(existsSync(d.socket)).toBe(true); // left behind
    expect((await d.cli(["daemon", "status"])).code).toBe(3);
    const r = await d.cli(["daemon", "start"]);
    expect(r.code).toBe(0);
    const pid = d.pid()!;
    expect(pid).not.toBe(old);
    expect((await d.cli(["daemon", "status"])).code).toBe(0);
  });

  test("SIGTERM and SIGINT shut the daemon down gracefully", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const d = newDaemon();
      await d.start();
      const pid = d.pid()!;
      process.kill(pid, signal);
      await waitFor(() => !pidAlive(pid), 5_000, `exit on ${signal}`);
      expect(existsSync(d.socket)).toBe(false);
      expect(existsSync(d.pidFile)).toBe(false);
      expect(readFileSync(join(d.home, "logs", "daemon.log"), "utf8")).toContain("daemon stopped");
    }
  });

  test("paths follow ADI_DAEMON_SOCKET, ADI_DAEMON_PID and ADI_DAEMON_LOG", async () => {
    const d = newDaemon();
    d.env.ADI_DAEMON_SOCKET = join(d.home, "..", "alt.sock");
    d.env.ADI_DAEMON_PID = join(d.home, "..", "alt.pid");
    d.env.ADI_DAEMON_LOG = join(d.home, "..", "alt.log");
    await d.start();
    expect(existsSync(d.env.ADI_DAEMON_SOCKET)).toBe(true);
    expect(readFileSync(d.env.ADI_DAEMON_PID, "utf8").trim()).toBe(String(d.pid()));
    expect(readFileSync(d.env.ADI_DAEMON_LOG, "utf8")).toContain("daemon started");
  });

  test("existing directories of ADI_DAEMON_PID, _LOG and _SOCKET keep their modes; missing ones are made 0700, and ADI_HOME is still 0700", async () => {
    const d = newDaemon();
    const base = join(d.home, "..");
    const shared = join(base, "shared"); // like /tmp: a daemon run as root made /tmp 0700 and dropped its sticky bit
    const logs = join(base, "var-log");
    for (const [dir, mode] of [[shared, 0o1777], [logs, 0o755], [d.home, 0o755]] as const) {
      mkdirSync(dir);
      chmodSync(dir, mode);
    }
    d.env.ADI_DAEMON_PID = join(shared, "adi.pid");
    d.env.ADI_DAEMON_LOG = join(logs, "adi.log");
    d.env.ADI_DAEMON_SOCKET = join(base, "run", "adi", "adi.sock");
    await d.start();
    const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8);
    expect({ shared: mode(shared), logs: mode(logs) }).toEqual({ shared: "1777", logs: "755" });
    expect({ run: mode(join(base, "run")), adi: mode(join(base, "run", "adi")) }).toEqual({ run: "700", adi: "700" });
    expect({ home: mode(d.home), logDir: mode(join(d.home, "logs")) }).toEqual({ home: "700", logDir: "700" });
    expect(readFileSync(d.env.ADI_DAEMON_PID, "utf8").trim()).toBe(String(d.pid()));
    expect(readFileSync(d.env.ADI_DAEMON_LOG, "utf8")).toContain("daemon started");
  });

  test("a relative ADI_DAEMON_SOCKET, _PID or _LOG is refused (exit 2), and the working directory is left as it was", async () => {
    const d = newDaemon();
    const cwd = join(d.home, "..", "cwd");
    mkdirSync(cwd);
    chmodSync(cwd, 0o755);
    const run = async (variable: string) => {
      // A home each, so that before the fix each daemon ran (in the foreground: killed below) and chmodded cwd.
      const env = { ...d.env, ADI_HOME: join(d.home, variable), [variable]: "adi.file" };
      const proc = Bun.spawn([ADI_BIN, "daemon", "run"], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      try {
        const code = await Promise.race([proc.exited, sleep(10_000).then(() => "still running")]);
        return { variable, code, stderr: await Promise.race([new Response(proc.stderr).text(), sleep(1_000).then(() => "")]) };
      } finally {
        proc.kill("SIGKILL");
      }
    };
    const seen = await Promise.all(["ADI_DAEMON_SOCKET", "ADI_DAEMON_PID", "ADI_DAEMON_LOG"].map(run));
    expect(seen).toEqual(["ADI_DAEMON_SOCKET", "ADI_DAEMON_PID", "ADI_DAEMON_LOG"].map((variable) => ({ variable, code: 2, stderr: `error: ${variable} must be an absolute path, got "adi.file"\n` })));
    expect((statSync(cwd).mode & 0o7777).toString(8)).toBe("755");
    expect(readdirSync(cwd)).toEqual([]);
  }, 30_000);

  test("a relative ADI_HOME given to `adi daemon start` is the one under the working directory (the daemon runs in /)", async () => {
    const d = newDaemon();
    const { cwd, home, env, clearAstray } = relativeHome(d);
    const cli = async (args: string[]) => {
      const proc = Bun.spawn([ADI_BIN, ...args], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      return { stdout, code };
    };
    // Without the fix the daemon ran on /adi-t-XXXX/h (its cwd is /): whatever happens, nothing of it may stay.
    try {
      expect((await cli(["daemon", "start"])).code).toBe(0);
      const status = await cli(["daemon", "status", "--json"]);
      expect(status.code).toBe(0);
      const json = JSON.parse(status.stdout);
      expect(json.home).toBe(d.home);
      expect(json.pid).toBe(d.pid()!); // the PID file under d.home: cleanup stops this daemon
    } finally {
      killCarrying(`ADI_HOME=${home}`);
      clearAstray();
    }
  });

  test("a daemon run by hand with a relative ADI_HOME works on the directory it names there, and says so absolutely", async () => {
    const d = newDaemon();
    const { cwd, env, clearAstray } = relativeHome(d);
    const daemon = Bun.spawn([ADI_BIN, "daemon", "run"], { cwd, env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    try {
      await waitFor(() => existsSync(join(d.home, "daemon.sock")), 5_000, "the socket");
      const proc = Bun.spawn([ADI_BIN, "daemon", "status", "--json"], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "ignore" });
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(0);
      const json = JSON.parse(stdout);
      // What its services are handed (ADI_DAEMON_SOCKET) must not depend on their working directory.
      expect({ home: json.home, socket: json.socket }).toEqual({ home: d.home, socket: join(d.home, "daemon.sock") });
    } finally {
      daemon.kill("SIGKILL");
      await daemon.exited;
      clearAstray();
    }
  });

  test("an abstract socket (@name) works", async () => {
    const d = newDaemon();
    d.env.ADI_DAEMON_SOCKET = `@adi-test-${process.pid}-${Date.now()}`;
    await d.start();
    const s = await d.cli(["daemon", "status", "--json"]);
    expect(JSON.parse(s.stdout)).toMatchObject({ running: true, socket: d.env.ADI_DAEMON_SOCKET });
  });

  test("usage errors exit 2, unknown variants of the CLI say what is wrong", async () => {
    const d = newDaemon();
    const r = await d.cli(["daemon", "frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown command");
    const v = await d.cli(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await d.cli(["daemon", "status", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--json");
  });
});

test("help and usage errors carry no colour when piped", async () => {
  const d = newDaemon();
  const help = await d.cli(["daemon", "--help"], { env: { NO_COLOR: "" } });
  expect(help.stdout).toContain("USAGE");
  expect(help.stdout).not.toContain("\x1b[");
  const bad = await d.cli(["daemon", "frob"], { env: { NO_COLOR: "" } });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("Unknown command frob");
  expect(bad.stderr).not.toContain("\x1b[");
});

test("an ADI_HOME that is a file: `daemon run` says so in one line, exit 1, no stack trace", () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-t-"));
  try {
    const home = join(dir, "home");
    writeFileSync(home, "");
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ADI_HOME: home };
    delete env.ADI_DAEMON_SOCKET;
    delete env.ADI_DAEMON_PID;
    delete env.ADI_DAEMON_LOG;
    const r = Bun.spawnSync([ADI_BIN, "daemon", "run"], { env, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toBe(`error: cannot create the directory ${home}: a file is in the way (it, or a directory above it, is not a directory)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
