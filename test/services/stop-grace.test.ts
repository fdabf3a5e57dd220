import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import type { DaemonClient } from "../../src/client/index.ts";
import type { TestDaemon } from "../helpers/daemon.ts";
import { pidAlive, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, pidsIn, readIfThere, sessionProcesses, waitForState } from "./helpers.ts";

// A stop gives the whole service its stop timeout, not the main process only
// (systemd's KillMode=control-group): when the main process exits on the stop
// signal, what is left of its group may still be finishing. The daemon used to
// KILL it at once (the stop returned in ≈ 60 ms and a worker's last write was
// lost).

afterEach(cleanupDaemons);

/** A fresh daemon and a client for `body`, closed after it (the daemon goes with cleanupDaemons). */
async function withClient(body: (d: TestDaemon, client: DaemonClient) => Promise<void>): Promise<void> {
  const d = newDaemon();
  await d.start();
  const client = d.client({ timeoutMs: 20_000 });
  try {
    await body(d, client);
  } finally {
    client.close();
  }
}

/**
 * The main process (`exec sleep 1000`) dies on TERM at once; a worker in its
 * group (it writes its pid to $1.pid) takes 1 s to finish on TERM, then
 * appends `done` to $1.
 */
function slowWorkerService(d: TestDaemon): { args: string[]; out: string } {
  const script = join(d.home, "slow-worker.sh");
  writeFileSync(
    script,
    [
      `sh -c 'echo $$ >> "$1.pid"; trap "sleep 1; echo done >> \\"$1\\"; exit 0" TERM; while :; do sleep 0.1; done' worker "$1" &`,
      "exec sleep 1000",
      "",
    ].join("\n"),
  );
  const out = join(d.home, "worker.out");
  return { args: [script, out], out };
}

describe("stop: the whole service gets the stop timeout", () => {
  test("the main process exits on TERM at once: the stop waits for its worker to finish (1 s), which it used to KILL", async () => {
    await withClient(async (d, client) => {
      const { args, out } = slowWorkerService(d);
      await client.startService("slow", { command: "sh", args, stopTimeoutMs: 10_000 });
      const { pid } = await waitForState(d, "slow", ServiceState.RUNNING);
      const [worker] = await pidsIn(d, `${out}.pid`, 1);
      await Bun.sleep(100); // the worker's trap is set
      const t0 = performance.now();
      await client.stopService("slow");
      const elapsed = performance.now() - t0;
      expect(readIfThere(out)).toBe("done\n");
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(5_000);
      expect(pidAlive(worker!)).toBe(false);
      expect(sessionProcesses(pid)).toEqual([]);
      expect((await waitForState(d, "slow", ServiceState.STOPPED)).pid).toBe(0);
    });
  });

  test("restart and daemon shutdown wait for it the same way", async () => {
    await withClient(async (d, client) => {
      const { args, out } = slowWorkerService(d);
      await client.startService("slow", { command: "sh", args, stopTimeoutMs: 10_000 });
      const gen1 = (await waitForState(d, "slow", ServiceState.RUNNING)).pid;
      await pidsIn(d, `${out}.pid`, 1);
      await Bun.sleep(100);
      await client.restartService("slow");
      expect(readIfThere(out)).toBe("done\n"); // the old worker finished before the restart answered
      const gen2 = (await waitForState(d, "slow", ServiceState.RUNNING)).pid;
      expect(gen2).not.toBe(gen1);
      expect(sessionProcesses(gen1)).toEqual([]);
      await pidsIn(d, `${out}.pid`, 2);
      await Bun.sleep(100);
      const daemonPid = d.pid()!;
      expect((await d.cli(["daemon", "stop"])).code).toBe(0);
      await waitFor(() => !pidAlive(daemonPid), 5_000, "daemon exit");
      expect(readIfThere(out)).toBe("done\ndone\n");
      for (const pid of await pidsIn(d, `${out}.pid`, 2)) expect(pidAlive(pid)).toBe(false);
    });
  });

  test("a worker that ignores TERM is KILLed when the stop timeout, counted from the signal, runs out; --force KILLs at once", async () => {
    await withClient(async (d, client) => {
      const script = join(d.home, "stubborn-worker.sh");
      const pids = join(d.home, "stubborn.pid");
      // The main process takes 0.6 s to exit on TERM; its worker ignores TERM.
      writeFileSync(
        script,
        [
          `sh -c 'trap "" TERM; echo $$ >> "$1"; while :; do sleep 0.1; done' worker "$1" &`,
          `trap 'sleep 0.6; exit 0' TERM`,
          "while :; do sleep 0.1; done",
          "",
        ].join("\n"),
      );
      await client.startService("stubborn", { command: "sh", args: [script, pids], stopTimeoutMs: 1_000 });
      const { pid } = await waitForState(d, "stubborn", ServiceState.RUNNING);
      const [worker] = await pidsIn(d, pids, 1);
      await Bun.sleep(100);
      let t0 = performance.now();
      await client.stopService("stubborn");
      let elapsed = performance.now() - t0;
      // Not at the main process's exit (0.6 s), not 1 s after it (1.6 s): 1 s after the TERM.
      expect(elapsed).toBeGreaterThanOrEqual(950);
      expect(elapsed).toBeLessThan(1_500);
      expect(pidAlive(worker!)).toBe(false);
      expect(sessionProcesses(pid)).toEqual([]);

      await client.startService("stubborn");
      const second = (await waitForState(d, "stubborn", ServiceState.RUNNING)).pid;
      const [, worker2] = await pidsIn(d, pids, 2);
      await Bun.sleep(100);
      t0 = performance.now();
      await client.stopService("stubborn", { force: true });
      elapsed = performance.now() - t0;
      expect(elapsed).toBeLessThan(500);
      expect(pidAlive(worker2!)).toBe(false);
      expect(sessionProcesses(second)).toEqual([]);
    });
  });

  test("a health check's stop gives the worker its stop timeout too", async () => {
    await withClient(async (d, client) => {
      const { args, out } = slowWorkerService(d);
      const health = { intervalMs: 100, timeoutMs: 50, failureThreshold: 1, probe: { case: "tcp" as const, value: "127.0.0.1:1" } };
      await client.startService("sick", { command: "sh", args, stopTimeoutMs: 10_000, restartOnFailure: false, health });
      const [worker] = await pidsIn(d, `${out}.pid`, 1);
      // Condemned, its main process exits on TERM at once: the worker used to be KILLed with the group then.
      await waitFor(() => readIfThere(out) === "done\n", 10_000, "the worker to finish");
      await waitFor(() => !pidAlive(worker!), 5_000, "the worker gone");
      expect((await waitForState(d, "sick", ServiceState.FAILED)).lastError).toContain("unhealthy");
    });
  });
});

// A forced stop used to queue behind the stop it was meant to cut short, and a forced daemon stop during a
// graceful one returned that one's promise: both waited out the whole stop timeout (a minute here).
describe("a forced stop during a stop KILLs at once", () => {
  /** The main process exits on TERM at once; its worker ignores TERM (its pid goes to $1). */
  function stubbornWorker(d: TestDaemon): { args: string[]; pids: string } {
    const script = join(d.home, "stubborn-worker.sh");
    const pids = join(d.home, "stubborn.pid");
    writeFileSync(script, [`sh -c 'trap "" TERM; echo $$ >> "$1"; while :; do sleep 0.1; done' worker "$1" &`, "exec sleep 1000", ""].join("\n"));
    return { args: [script, pids], pids };
  }

  test("service stop --force while a stop waits for what is left of the service", async () => {
    await withClient(async (d, client) => {
      const { args, pids } = stubbornWorker(d);
      await client.startService("stubborn", { command: "sh", args, stopTimeoutMs: 60_000 });
      const { pid } = await waitForState(d, "stubborn", ServiceState.RUNNING);
      const [worker] = await pidsIn(d, pids, 1);
      await Bun.sleep(100);
      const t0 = performance.now();
      const graceful = client.stopService("stubborn");
      await waitFor(() => !pidAlive(pid), 5_000, "the main process to exit on TERM");
      expect(pidAlive(worker!)).toBe(true); // the graceful stop waits for it
      const forced = await d.cli(["daemon", "stop", "stubborn", "--force"]);
      expect(forced.code).toBe(0);
      await graceful;
      expect(performance.now() - t0).toBeLessThan(10_000);
      expect(pidAlive(worker!)).toBe(false);
      expect(sessionProcesses(pid)).toEqual([]);
      expect(readIfThere(join(d.home, "logs", "services", "stubborn.log"))).toContain("forced stop: sending SIGKILL");
    });
  });

  test("daemon stop --force while a graceful daemon stop waits out a main process that ignores TERM", async () => {
    await withClient(async (d, client) => {
      await client.startService("deaf", { command: "sh", args: ["-c", "trap '' TERM; while :; do sleep 0.1; done"], stopTimeoutMs: 60_000 });
      const { pid } = await waitForState(d, "deaf", ServiceState.RUNNING);
      await Bun.sleep(100);
      const daemonPid = d.pid()!;
      const t0 = performance.now();
      const graceful = d.cli(["daemon", "stop"]);
      await Bun.sleep(500);
      expect(pidAlive(pid)).toBe(true);
      await d.cli(["daemon", "stop", "--force"]);
      await graceful;
      await waitFor(() => !pidAlive(daemonPid), 10_000, "daemon exit");
      expect(performance.now() - t0).toBeLessThan(10_000);
      expect(pidAlive(pid)).toBe(false);
      expect(sessionProcesses(pid)).toEqual([]);
    });
  });
});
