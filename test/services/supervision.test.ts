import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, serviceInfo, servicesJson, sessionProcesses, waitForState } from "./helpers.ts";

afterEach(cleanupDaemons);

describe("service supervision", () => {
  test("a service that keeps exiting 1 is restarted max_restarts times with growing delays, then FAILED", async () => {
    const d = newDaemon();
    await d.start();
    const stamps = join(d.home, "stamps");
    const r = await d.cli(["daemon", "start", "crash", "--max-restarts", "3", "--", "sh", "-c", `date +%s%N >> ${stamps}; exit 1`]);
    expect(r.code).toBe(0);
    await waitForState(d, "crash", ServiceState.FAILED, 8_000);

    const times = readFileSync(stamps, "utf8").trim().split("\n").map((ns) => Number(BigInt(ns) / 1_000_000n));
    expect(times.length).toBe(4); // the first run and 3 restarts
    // Delays 0, 100, 200 ms (plus the run time of each attempt).
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[1]!).toBeGreaterThanOrEqual(95);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]! + 50);
    expect(gaps[2]!).toBeGreaterThanOrEqual(195);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]! + 50);

    const json = (await servicesJson(d)).find((s) => s.name === "crash")!;
    expect(json).toMatchObject({ state: "failed", restarts: 3, pid: null, last_exit_code: 1 });
    expect(json.last_error).toContain("exited with code 1");
    expect(json.last_error).toContain("max restarts reached");

    const table = await d.cli(["daemon", "services"]);
    expect(table.stdout).toMatch(/NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+LAST ERROR/);
    expect(table.stdout).toMatch(/crash\s+failed\s+-\s+-\s+3\s+exited with code 1/);

    // Stopping a failed service acknowledges it; the reason stays visible.
    expect((await d.cli(["daemon", "stop", "crash"])).code).toBe(0);
    const stopped = (await servicesJson(d)).find((s) => s.name === "crash")!;
    expect(stopped.state).toBe("stopped");
    expect(stopped.last_error).toContain("max restarts reached");
  });

  test("kill -9 of a service's pid: a new pid runs, from the exit event (well inside one liveness interval)", async () => {
    const d = newDaemon();
    await d.start();
    expect((await d.cli(["daemon", "start", "sleeper", "--", "sleep", "1000"])).code).toBe(0);
    const first = (await waitForState(d, "sleeper", ServiceState.RUNNING)).pid;
    expect(first).toBeGreaterThan(0);
    const t0 = performance.now();
    process.kill(first, "SIGKILL");
    let second = 0;
    await waitFor(async () => {
      const info = await serviceInfo(d, "sleeper");
      second = info?.state === ServiceState.RUNNING && info.pid !== first ? info.pid : 0;
      return second > 0;
    }, 3_000, "a new pid");
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(1_500); // the liveness check runs every 5 s
    const info = (await serviceInfo(d, "sleeper"))!;
    expect(info.restarts).toBe(1);
    expect(info.lastSignal).toBe("SIGKILL");
    expect(sessionProcesses(second)).toEqual([second]);
  });

  test("an ad-hoc config that asks for restart_on_failure without max_restarts is restarted (default 5); an explicit 0 never is", async () => {
    const d = newDaemon();
    await d.start();
    const client = d.client();
    try {
      // Exits 1 on its first run only: one restart brings it up for good.
      const onceFailing = (name: string) => ["-c", `f=${join(d.home, name)}; test -e "$f" && exec sleep 1000; : > "$f"; exit 1`];
      await client.startService("plain", { command: "sh", args: onceFailing("plain"), restartOnFailure: true });
      await client.startService("never", { command: "sh", args: onceFailing("never"), restartOnFailure: true, maxRestarts: 0 });
      await waitFor(
        async () => {
          const plain = await serviceInfo(d, "plain");
          return plain?.restarts === 1 && plain.state === ServiceState.RUNNING;
        },
        10_000,
        "plain restarted once and running",
      );
      const never = await waitForState(d, "never", ServiceState.FAILED);
      expect(never.restarts).toBe(0);
      expect(never.lastError).toContain("max restarts reached (0)");
    } finally {
      client.close();
    }
  });

  test("a service that ignores SIGTERM is gone within stop timeout + 1 s", async () => {
    const d = newDaemon();
    await d.start();
    const r = await d.cli(["daemon", "start", "stubborn", "--stop-timeout", "1", "--", "sh", "-c", 'trap "" TERM; while :; do sleep 0.1; done']);
    expect(r.code).toBe(0);
    const { pid } = await waitForState(d, "stubborn", ServiceState.RUNNING);
    await Bun.sleep(200);
    const client = d.client({ timeoutMs: 15_000 });
    const t0 = performance.now();
    try {
      await client.stopService("stubborn");
    } finally {
      client.close();
    }
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(2_000);
    expect(sessionProcesses(pid)).toEqual([]);
    const info = (await serviceInfo(d, "stubborn"))!;
    expect(info.state).toBe(ServiceState.STOPPED);
    expect(info.pid).toBe(0);
  });

  test("grandchildren never survive stop, restart or daemon shutdown", async () => {
    const d = newDaemon();
    await d.start();
    const script = "sleep 1000 & sleep 1000 & wait";
    expect((await d.cli(["daemon", "start", "forker", "--", "sh", "-c", script])).code).toBe(0);
    const gen1 = (await waitForState(d, "forker", ServiceState.RUNNING)).pid;
    await waitFor(() => sessionProcesses(gen1).length === 3, 3_000, "sh and two sleeps");

    expect((await d.cli(["daemon", "restart", "forker"])).code).toBe(0);
    const gen2 = (await waitForState(d, "forker", ServiceState.RUNNING)).pid;
    expect(gen2).not.toBe(gen1);
    expect(sessionProcesses(gen1)).toEqual([]);
    await waitFor(() => sessionProcesses(gen2).length === 3, 3_000, "second generation");

    expect((await d.cli(["daemon", "stop", "forker"])).code).toBe(0);
    expect(sessionProcesses(gen2)).toEqual([]);

    expect((await d.cli(["daemon", "start", "forker"])).code).toBe(0);
    const gen3 = (await waitForState(d, "forker", ServiceState.RUNNING)).pid;
    await waitFor(() => sessionProcesses(gen3).length === 3, 3_000, "third generation");
    expect((await d.cli(["daemon", "stop"])).code).toBe(0);
    expect(sessionProcesses(gen3)).toEqual([]);
  });

  test("stop --force kills at once, skipping the stop timeout", async () => {
    const d = newDaemon();
    await d.start();
    await d.cli(["daemon", "start", "slow", "--", "sh", "-c", 'trap "" TERM; sleep 1000 & wait']);
    const { pid } = await waitForState(d, "slow", ServiceState.RUNNING);
    const t0 = performance.now();
    const r = await d.cli(["daemon", "stop", "slow", "--force"]);
    expect(r.code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5_000); // the default stop timeout is 10 s
    expect(sessionProcesses(pid)).toEqual([]);
  });

  test("a service whose binary does not exist is FAILED with a clear spawn error", async () => {
    const d = newDaemon();
    await d.start();
    const r = await d.cli(["daemon", "start", "ghost", "--", "/nonexistent/bin/ghostd", "--serve"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot start ghost: spawn failed: executable not found: /nonexistent/bin/ghostd");
    const json = (await servicesJson(d)).find((s) => s.name === "ghost")!;
    expect(json.state).toBe("failed");
    expect(json.last_error).toBe("spawn failed: executable not found: /nonexistent/bin/ghostd");
  });

  test("a binary that may not be run is FAILED with a spawn error naming what to check, not only the file", async () => {
    const d = newDaemon();
    await d.start();
    const script = join(d.home, "not-exec.sh");
    writeFileSync(script, "#!/bin/sh\nexit 0\n", { mode: 0o644 });
    const r = await d.cli(["daemon", "start", "noexec", "--", script]);
    expect(r.code).toBe(1);
    // EACCES is also what a closed directory above it gives (a plugin run as ADI_USER under a 0700 home).
    expect(r.stderr).toContain(`spawn failed: permission denied running ${script} as this user: it is not executable, or this user may not enter a directory above it or the working directory`);
  });

  test("a directory as the command, and a script whose #! names no interpreter, are told as such", async () => {
    const d = newDaemon();
    await d.start();
    const dir = await d.cli(["daemon", "start", "isdir", "--", "/tmp"]);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain("spawn failed: /tmp is a directory, not a program");
    const script = join(d.home, "bad-shebang.sh");
    writeFileSync(script, "#!/nonexistent/interpreter\nexit 0\n", { mode: 0o755 });
    const bad = await d.cli(["daemon", "start", "badbang", "--", script]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`spawn failed: ${script} exists, but the interpreter its #! line names (or a library it needs) was not found`);
  });

  test("a relative --cwd is the directory the CLI runs in; the command shows quoted as a shell would take it", async () => {
    const d = newDaemon();
    await d.start();
    mkdirSync(join(d.home, "work"), { recursive: true });
    const proc = Bun.spawn([...d.argv0, "daemon", "start", "relcwd", "--cwd", "work", "--", "sh", "-c", "pwd; exec sleep 1000"], { cwd: d.home, env: d.env, stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(0);
    const info = await waitForState(d, "relcwd", ServiceState.RUNNING);
    expect(info.command).toBe("sh -c 'pwd; exec sleep 1000'");
    await waitFor(() => readFileSync(join(d.home, "logs", "services", "relcwd.log"), "utf8").includes(`${join(d.home, "work")}\n`), 5_000, "pwd in the log");
  });

  test("a missing working directory is reported as such", async () => {
    const d = newDaemon();
    await d.start();
    const r = await d.cli(["daemon", "start", "lost", "--cwd", "/nonexistent/dir", "--", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("working directory /nonexistent/dir does not exist");
  });

  test("unknown names answer NOT_FOUND; reserved names say which plugin to install", async () => {
    const d = newDaemon();
    await d.start();
    const hive = await d.cli(["daemon", "start", "hive"]);
    expect(hive.code).toBe(1);
    expect(hive.stderr).toContain("service hive is not installed: install the hive plugin with `adi plugin install PATH`");
    const nope = await d.cli(["daemon", "stop", "nope"]);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain("no service named nope");
    const adhoc = await d.cli(["daemon", "start", "proxy", "--", "true"]);
    expect(adhoc.code).toBe(2);
    expect(adhoc.stderr).toContain("proxy is reserved");
    const badName = await d.cli(["daemon", "start", "../evil", "--", "true"]);
    expect(badName.code).toBe(2);
  });

  test("a clean exit is not restarted: the service is stopped, not failed", async () => {
    const d = newDaemon();
    await d.start();
    await d.cli(["daemon", "start", "job", "--", "sh", "-c", "echo done"]);
    const info = await waitForState(d, "job", ServiceState.STOPPED);
    expect(info.restarts).toBe(0);
    expect(info.lastExitCode).toBe(0);
    expect(info.lastError).toBe("");
  });

  test("environment: the definition's env, ADI_DAEMON_SOCKET and ADI_SERVICE_NAME, and only a few of the daemon's variables", async () => {
    const d = newDaemon();
    await d.start();
    const r = await d.cli(["daemon", "start", "envy", "--env", "FOO=bar", "--env", "ADI_SERVICE_NAME=spoof", "--", "sh", "-c", "env; sleep 1000"]);
    expect(r.code).toBe(0);
    let out = "";
    await waitFor(async () => (out = (await d.cli(["daemon", "logs", "envy"])).stdout).includes("FOO=bar"), 3_000, "env output");
    expect(out).toContain(`out ADI_DAEMON_SOCKET=${d.socket}\n`);
    expect(out).toContain("out ADI_SERVICE_NAME=envy\n");
    expect(out).toContain("out PATH=");
    expect(out).not.toContain("NO_COLOR="); // set for the daemon by the test, not passed on
  });

  test("start with a changed ad-hoc definition restarts it; the same definition, or one whose restart policy alone changed, keeps the process", async () => {
    const d = newDaemon();
    await d.start();
    await d.cli(["daemon", "start", "web", "--", "sleep", "1000"]);
    const first = await waitForState(d, "web", ServiceState.RUNNING);
    await d.cli(["daemon", "start", "web", "--", "sleep", "1000"]);
    expect((await serviceInfo(d, "web"))!.pid).toBe(first.pid);
    await d.cli(["daemon", "start", "web", "--", "sleep", "2000"]);
    const second = await waitForState(d, "web", ServiceState.RUNNING);
    expect(second.pid).not.toBe(first.pid);
    expect(second.command).toBe("sleep 2000");
    expect(sessionProcesses(first.pid)).toEqual([]);
    // Only the restart policy changed: the same process keeps running, and the new policy is kept.
    await d.cli(["daemon", "start", "web", "--max-restarts", "9", "--", "sleep", "2000"]);
    expect((await serviceInfo(d, "web"))!.pid).toBe(second.pid);
    expect(JSON.parse(readFileSync(join(d.home, "state.json"), "utf8")).services.web.adhoc.maxRestarts).toBe(9);
    await d.cli(["daemon", "start", "web", "--no-restart", "--", "sleep", "2000"]);
    expect((await serviceInfo(d, "web"))!.pid).toBe(second.pid);
    expect(JSON.parse(readFileSync(join(d.home, "state.json"), "utf8")).services.web.adhoc.restartOnFailure).toBe(false);
  });

  test("redefinitions in a row: each running process is stopped as the definition it was spawned under says", async () => {
    const d = newDaemon();
    await d.start();
    const deaf = "trap '' INT TERM; while :; do sleep 0.05; done";
    const gentle = "trap 'echo got INT; exit 0' INT; trap '' TERM; echo gen C; while :; do sleep 0.05; done";
    expect((await d.cli(["daemon", "start", "g", "--stop-signal", "SIGINT", "--stop-timeout", "2", "--", "sh", "-c", deaf])).code).toBe(0);
    await waitForState(d, "g", ServiceState.RUNNING);
    const b = d.cli(["daemon", "start", "g", "--stop-timeout", "2", "--", "sleep", "1000"]);
    await Bun.sleep(300);
    const c = d.cli(["daemon", "start", "g", "--stop-signal", "SIGINT", "--stop-timeout", "6", "--", "sh", "-c", gentle]);
    expect((await b).code).toBe(0);
    expect((await c).code).toBe(0);
    const log = readFileSync(join(d.home, "logs", "services", "g.log"), "utf8");
    // The first generation took its own 2 s and a KILL; the third, spawned while the second request waited, left on SIGINT.
    expect(log).toContain("still running 2000 ms after SIGINT: sending SIGKILL");
    expect(log).not.toContain("after SIGTERM");
    expect(log).toContain("got INT");
  });

  test("the same --env flags in another order are the same definition: the process keeps running", async () => {
    const d = newDaemon();
    await d.start();
    await d.cli(["daemon", "start", "rd", "--env", "A=1", "--env", "B=2", "--", "sleep", "1000"]);
    const first = await waitForState(d, "rd", ServiceState.RUNNING);
    expect((await d.cli(["daemon", "start", "rd", "--env", "B=2", "--env", "A=1", "--", "sleep", "1000"])).code).toBe(0);
    expect((await serviceInfo(d, "rd"))!.pid).toBe(first.pid);
  });

  test("a redefinition stops the running process as the definition it started under says (its stop signal)", async () => {
    const d = newDaemon();
    await d.start();
    // Exits cleanly on INT only; TERM is ignored, so the new definition's TERM would cost the whole stop timeout and a KILL.
    const script = "trap 'echo got INT; exit 0' INT; trap '' TERM; while :; do sleep 0.05; done";
    expect((await d.cli(["daemon", "start", "gentle", "--stop-signal", "SIGINT", "--stop-timeout", "30", "--", "sh", "-c", script])).code).toBe(0);
    const first = await waitForState(d, "gentle", ServiceState.RUNNING);
    const t0 = performance.now();
    expect((await d.cli(["daemon", "start", "gentle", "--stop-timeout", "30", "--", "sleep", "1000"])).code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect((await serviceInfo(d, "gentle"))!.pid).not.toBe(first.pid);
    const log = readFileSync(join(d.home, "logs", "services", "gentle.log"), "utf8");
    expect(log).toContain("got INT");
    expect(log).not.toContain("sending SIGKILL");
  });

  test("remove stops an ad-hoc service and forgets it (list, counts, state.json); its log stays; unknown names and a stopped daemon are said", async () => {
    const d = newDaemon();
    expect((await d.cli(["daemon", "remove", "web"])).code).toBe(3);
    await d.start();
    await d.cli(["daemon", "start", "web", "--", "sleep", "1000"]);
    await d.cli(["daemon", "start", "keep", "--", "sleep", "1000"]);
    const web = await waitForState(d, "web", ServiceState.RUNNING);
    const r = await d.cli(["daemon", "remove", "web"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("removed web\n");
    expect(sessionProcesses(web.pid)).toEqual([]);
    expect((await servicesJson(d)).map((s) => s.name)).toEqual(["keep"]);
    expect(JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout).services.total).toBe(1);
    expect(Object.keys(JSON.parse(readFileSync(join(d.home, "state.json"), "utf8")).services)).toEqual(["keep"]);
    expect(readFileSync(join(d.home, "logs", "services", "web.log"), "utf8")).toContain("started pid");
    const again = await d.cli(["daemon", "remove", "web"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("web");
    // Removed for good: the next daemon does not bring it back.
    expect((await d.cli(["daemon", "stop"])).code).toBe(0);
    await d.start();
    expect((await servicesJson(d)).map((s) => s.name)).toEqual(["keep"]);
  });

  test("a name defined again while its removed predecessor is still stopping waits for it: the log and events are the new one's", async () => {
    const d = newDaemon();
    await d.start();
    const stubborn = "trap '' TERM; while :; do sleep 0.05; done";
    expect((await d.cli(["daemon", "start", "web", "--stop-timeout", "1", "--", "sh", "-c", stubborn])).code).toBe(0);
    await waitForState(d, "web", ServiceState.RUNNING);
    const removing = d.cli(["daemon", "remove", "web"]);
    await Bun.sleep(200);
    expect((await d.cli(["daemon", "start", "web", "--", "sleep", "1000"])).code).toBe(0);
    expect((await removing).code).toBe(0);
    expect((await serviceInfo(d, "web"))!.state).toBe(ServiceState.RUNNING);
    const log = readFileSync(join(d.home, "logs", "services", "web.log"), "utf8");
    const last = log.slice(log.lastIndexOf("started pid"));
    expect(last).toContain("sleep 1000");
    // The old code started the new one at once: the old one's KILL and "service removed" landed after it.
    expect(last).not.toContain("SIGKILL");
    expect(last).not.toContain("service removed");
  });
});
