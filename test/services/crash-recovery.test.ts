import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { pidAlive, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, serviceProcesses, serviceSessions, sessionProcesses, waitForState } from "./helpers.ts";

afterEach(cleanupDaemons);

const FORKER = ["sh", "-c", "sleep 1000 & sleep 1000 & wait"];

describe("daemon crash safety", () => {
  test("kill -9 of the daemon with 3 services running: after `adi daemon start` each runs exactly once, no orphan remains", async () => {
    const d = newDaemon();
    await d.start();
    const names = ["alpha", "beta", "gamma"];
    const old = new Map<string, number>();
    for (const name of names) {
      expect((await d.cli(["daemon", "start", name, "--", ...FORKER])).code).toBe(0);
      const { pid } = await waitForState(d, name, ServiceState.RUNNING);
      old.set(name, pid);
      await waitFor(() => sessionProcesses(pid).length === 3, 3_000, `${name} and its children`);
    }
    const state = JSON.parse(readFileSync(join(d.home, "state.json"), "utf8"));
    expect(state.children.map((c: { pid: number }) => c.pid).sort()).toEqual([...old.values()].sort());

    const daemonPid = d.pid()!;
    process.kill(daemonPid, "SIGKILL");
    await waitFor(() => !pidAlive(daemonPid), 3_000, "daemon death");
    // The services outlive the daemon (own sessions): the next daemon must deal with them.
    for (const pid of old.values()) expect(sessionProcesses(pid).length).toBe(3);

    const r = await d.cli(["daemon", "start"]);
    expect(r.code).toBe(0);
    for (const name of names) {
      const info = await waitForState(d, name, ServiceState.RUNNING);
      expect(info.pid).not.toBe(old.get(name));
      await waitFor(() => sessionProcesses(info.pid).length === 3, 3_000, `${name} new generation`);
    }
    for (const pid of old.values()) expect(sessionProcesses(pid)).toEqual([]);
    for (const name of names) expect(serviceSessions(d, name).size).toBe(1);
    expect(serviceProcesses(d).length).toBe(9);
  });

  test("desired state survives a daemon restart: running services come back, a stopped one stays stopped", async () => {
    const d = newDaemon();
    await d.start();
    await d.cli(["daemon", "start", "keep", "--", "sleep", "1000"]);
    await d.cli(["daemon", "start", "quiet", "--", "sleep", "1000"]);
    const keep1 = (await waitForState(d, "keep", ServiceState.RUNNING)).pid;
    await waitForState(d, "quiet", ServiceState.RUNNING);
    expect((await d.cli(["daemon", "stop", "quiet"])).code).toBe(0);

    expect((await d.cli(["daemon", "stop"])).code).toBe(0);
    expect(pidAlive(keep1)).toBe(false);
    expect(serviceProcesses(d)).toEqual([]);

    expect((await d.cli(["daemon", "start"])).code).toBe(0);
    const keep2 = (await waitForState(d, "keep", ServiceState.RUNNING)).pid;
    expect(keep2).not.toBe(keep1);
    await Bun.sleep(300);
    const quiet = await waitForState(d, "quiet", ServiceState.STOPPED);
    expect(quiet.pid).toBe(0);
    expect(serviceSessions(d, "quiet").size).toBe(0);
    // The in-memory ring is refilled from the log file: history survives the daemon restart.
    const logs = await d.cli(["daemon", "logs", "quiet"]);
    expect(logs.stdout).toMatch(/adi started pid \d+: sleep 1000/);
    expect(logs.stdout).toContain("adi killed by SIGTERM");
  });
});
