import { afterEach, describe, expect, test } from "bun:test";
import { TestDaemon, type CliResult } from "../helpers/daemon.ts";
import { pidAlive, waitFor } from "../helpers/env.ts";

const daemons: TestDaemon[] = [];
const spawned: Bun.Subprocess[] = [];
afterEach(async () => {
  // The daemons first, through `adi daemon stop`: a daemon killed outright would leave its service.
  await Promise.all(daemons.splice(0).map((d) => d.cleanup()));
  for (const p of spawned.splice(0)) p.kill("SIGKILL");
});

/** A daemon with a service that ignores TERM: its graceful shutdown takes the service's 2 s stop timeout. */
async function slowToStop(): Promise<{ d: TestDaemon; pid: number }> {
  const d = new TestDaemon();
  daemons.push(d);
  await d.start();
  const r = await d.cli(["daemon", "start", "stubborn", "--stop-timeout", "2", "--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]);
  expect(r.code).toBe(0);
  return { d, pid: d.pid()! };
}

/** Begin a graceful stop and return once the daemon says it is stopping (in an object: a promise returned bare would be awaited too). */
async function beginStop(d: TestDaemon): Promise<{ stopped: Promise<CliResult> }> {
  const stop = d.cli(["daemon", "stop"]);
  const client = d.client();
  try {
    await waitFor(async () => (await client.ping()).stopping, 5_000, "ping says stopping");
  } finally {
    client.close();
  }
  return { stopped: stop };
}

describe("a start while the daemon shuts down", () => {
  test("status shows stopping; `adi daemon start` waits for the exit and starts a new daemon", async () => {
    const { d, pid } = await slowToStop();
    const { stopped } = await beginStop(d);
    const json = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout);
    expect(json).toMatchObject({ running: true, stopping: true, pid });
    expect((await d.cli(["daemon", "status"])).stdout).toContain("adi daemon: stopping");

    const started = await d.cli(["daemon", "start"]);
    expect(started.stderr).toBe("");
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/adi daemon started \(pid \d+\)/);
    expect(pidAlive(pid)).toBe(false);
    const next = d.pid()!;
    expect(next).not.toBe(pid);
    expect(pidAlive(next)).toBe(true);
    expect(JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout)).toMatchObject({ running: true, stopping: false, pid: next });
    expect((await stopped).code).toBe(0);
  });

  test("a client's ensureRunning waits for the exit, then starts one", async () => {
    const { d, pid } = await slowToStop();
    const { stopped } = await beginStop(d);
    const client = d.client();
    try {
      expect(await client.isRunning()).toBe(false);
      expect(await client.daemonState()).toBe("stopping");
      await client.ensureRunning();
      expect(pidAlive(pid)).toBe(false);
      expect(await client.daemonState()).toBe("running");
      expect((await client.status()).pid).not.toBe(pid);
    } finally {
      client.close();
    }
    await stopped;
  });

  test("a daemon run meanwhile waits for the old one's lock and takes over; its status has no log file", async () => {
    const { d, pid } = await slowToStop();
    const { stopped } = await beginStop(d);
    const run = Bun.spawn([...d.argv0, "daemon", "run"], { env: d.env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    spawned.push(run);
    await stopped;
    expect(pidAlive(pid)).toBe(false);
    // The old code exited 0 here at once ("a daemon is already running").
    await waitFor(() => d.pid() === run.pid, 10_000, "the daemon run meanwhile writes its PID file");
    expect(run.exitCode).toBeNull();
    const status = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout);
    expect(status).toMatchObject({ running: true, stopping: false, pid: run.pid, log: null });
    expect((await d.cli(["daemon", "status"])).stdout).toMatch(/log +stderr \(a daemon in the foreground/);
  });

  test.skipIf(!Bun.which("script"))("`adi daemon stop NAME` on a terminal during the shutdown waits for the service, not 'not running'", async () => {
    const { d } = await slowToStop();
    const { stopped } = await beginStop(d);
    const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
    const r = Bun.spawnSync(["script", "-qec", [...d.argv0, "daemon", "stop", "stubborn"].map(quote).join(" "), "/dev/null"], { env: d.env, stdin: "ignore", stdout: "pipe" });
    const shown = r.stdout.toString();
    expect(shown).not.toContain("not running");
    expect(r.exitCode).toBe(0);
    expect(shown).toContain("stopped stubborn");
    await stopped;
  });
});
