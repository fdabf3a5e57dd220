import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { readProcStat } from "../../src/util/proc-stat.ts";
import { environOf, pidAlive, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, pidsIn, readIfThere, serviceInfo, waitForState } from "./helpers.ts";

// A descendant that calls setsid (setsid(1), daemon(3), `redis-server
// --daemonize yes`) leaves the service's group and session, where stop,
// restart, shutdown and crash recovery looked for it: it survived them all.
// Each generation's processes now carry a marker in their environment
// (ADI_SERVICE_INSTANCE), and the sweeps read it from /proc/PID/environ.

const onLinux = process.platform === "linux";
if (!onLinux) console.log("skipped: the marker is read from /proc, which only Linux has");

afterEach(cleanupDaemons);


/** The reviewer's repro: a grandchild in a session of its own writes its pid (appended: one line per generation). */
const escaper = (pidFile: string) => ({ command: "sh", args: ["-c", `setsid sh -c 'echo $$ >> ${pidFile}; exec sleep 1000' & exec sleep 1000`] });

/** The escaped grandchild is in another session than the service's main process. */
function expectEscaped(grandchild: number, leader: number): void {
  expect(readProcStat(grandchild)?.session).toBe(grandchild);
  expect(readProcStat(leader)?.session).toBe(leader);
}

describe.skipIf(!onLinux)("descendants that left the service's session", () => {
  test("stop reaches a grandchild that called setsid, with the stop signal first", async () => {
    const d = newDaemon();
    await d.start();
    const pidFile = join(d.home, "esc.pid");
    const client = d.client({ timeoutMs: 20_000 });
    try {
      await client.startService("esc", escaper(pidFile));
      const { pid } = await waitForState(d, "esc", ServiceState.RUNNING);
      const [grandchild] = await pidsIn(d, pidFile, 1);
      expectEscaped(grandchild!, pid);
      await client.stopService("esc");
      expect(pidAlive(grandchild!)).toBe(false);

      // It gets the stop signal (a graceful stop), not only the KILL.
      const termFile = join(d.home, "term");
      const trapper = join(d.home, "trapper.pid");
      await client.startService("trap", {
        command: "sh",
        args: ["-c", `setsid sh -c 'echo $$ >> ${trapper}; trap "echo term > ${termFile}; exit 0" TERM; while :; do sleep 0.1; done' & exec sleep 1000`],
        stopTimeoutMs: 10_000,
      });
      const [trapped] = await pidsIn(d, trapper, 1);
      await Bun.sleep(100);
      const t0 = performance.now();
      await client.stopService("trap");
      expect(performance.now() - t0).toBeLessThan(3_000);
      expect(readIfThere(termFile)).toBe("term\n");
      expect(pidAlive(trapped!)).toBe(false);
    } finally {
      client.close();
    }
  });

  test("restart, a crash restart and daemon shutdown reach it too, and never the new generation's", async () => {
    const d = newDaemon();
    await d.start();
    const pidFile = join(d.home, "esc.pid");
    const client = d.client({ timeoutMs: 20_000 });
    try {
      await client.startService("esc", { ...escaper(pidFile), restartOnFailure: true, maxRestarts: 3 });
      const gen1 = (await waitForState(d, "esc", ServiceState.RUNNING)).pid;
      const [esc1] = await pidsIn(d, pidFile, 1);
      expectEscaped(esc1!, gen1);

      await client.restartService("esc");
      expect(pidAlive(esc1!)).toBe(false);
      const gen2 = (await waitForState(d, "esc", ServiceState.RUNNING)).pid;
      const [, esc2] = await pidsIn(d, pidFile, 2);

      // A crash: the old generation's escaped grandchild goes with the sweep after the restart.
      process.kill(gen2, "SIGKILL");
      let gen3 = 0;
      await waitFor(async () => {
        const info = await serviceInfo(d, "esc");
        gen3 = info?.state === ServiceState.RUNNING && info.pid !== gen2 ? info.pid : 0;
        return gen3 > 0;
      }, 5_000, "a new generation");
      const [, , esc3] = await pidsIn(d, pidFile, 3);
      await waitFor(() => !pidAlive(esc2!), 3_000, "the crashed generation's grandchild gone");
      await Bun.sleep(500); // past the sweep (250 ms after the crash)
      expect(pidAlive(esc3!)).toBe(true);
      expect(pidAlive(gen3)).toBe(true);
      // What marks a generation: a random token, one per generation.
      const marker = (pid: number) => environOf(pid).find((v) => v.startsWith("ADI_SERVICE_INSTANCE="));
      expect(marker(esc3!)).toMatch(/^ADI_SERVICE_INSTANCE=[0-9a-f]{32}$/);
      expect(marker(gen3)).toBe(marker(esc3!)!);
    } finally {
      client.close();
    }
    const esc3 = (await pidsIn(d, pidFile, 3))[2]!;
    const daemonPid = d.pid()!;
    expect((await d.cli(["daemon", "stop"])).code).toBe(0);
    await waitFor(() => !pidAlive(daemonPid), 5_000, "daemon exit");
    expect(pidAlive(esc3)).toBe(false);
  });

  test("after kill -9 of the daemon, the next one kills them by the marker state.json records, their leader alive or gone; another daemon's are left alone", async () => {
    const other = newDaemon();
    await other.start();
    const otherFile = join(other.home, "esc.pid");
    const otherClient = other.client();
    try {
      await otherClient.startService("esc", escaper(otherFile)); // the same name, another ADI_HOME
    } finally {
      otherClient.close();
    }
    const [otherEscaped] = await pidsIn(other, otherFile, 1);

    const d = newDaemon();
    await d.start();
    const aliveFile = join(d.home, "alive.pid");
    const orphanFile = join(d.home, "orphan.pid");
    const client = d.client();
    let orphanLeader: number;
    try {
      await client.startService("alive", escaper(aliveFile));
      await client.startService("orphan", escaper(orphanFile));
      await client.startService("plain", { command: "sleep", args: ["1000"] });
      await waitForState(d, "alive", ServiceState.RUNNING);
      orphanLeader = (await waitForState(d, "orphan", ServiceState.RUNNING)).pid;
      await waitForState(d, "plain", ServiceState.RUNNING);
    } finally {
      client.close();
    }
    const [aliveEscaped] = await pidsIn(d, aliveFile, 1);
    const [orphanEscaped] = await pidsIn(d, orphanFile, 1);

    const recorded = JSON.parse(readFileSync(join(d.home, "state.json"), "utf8")).children as { name: string; instance?: string }[];
    expect(recorded.map((c) => c.instance)).toEqual(recorded.map(() => expect.stringMatching(/^[0-9a-f]{32}$/)));
    const daemonPid = d.pid()!;
    process.kill(daemonPid, "SIGKILL");
    await waitFor(() => !pidAlive(daemonPid), 3_000, "daemon death");
    // "orphan" loses its main process (and so its whole session) while no daemon runs.
    process.kill(orphanLeader, "SIGKILL");
    await waitFor(() => readProcStat(orphanLeader)?.state !== "S", 3_000, "orphan's leader death");
    expect(pidAlive(aliveEscaped!)).toBe(true);
    expect(pidAlive(orphanEscaped!)).toBe(true);

    expect((await d.cli(["daemon", "start"])).code).toBe(0);
    await waitForState(d, "alive", ServiceState.RUNNING);
    await waitForState(d, "orphan", ServiceState.RUNNING);
    expect(pidAlive(aliveEscaped!)).toBe(false);
    expect(pidAlive(orphanEscaped!)).toBe(false);
    // Each runs once again, with a grandchild of its own.
    await pidsIn(d, aliveFile, 2);
    await pidsIn(d, orphanFile, 2);
    // Another daemon's service of the same name was never touched.
    expect(pidAlive(otherEscaped!)).toBe(true);
  });
});
