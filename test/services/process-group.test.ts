import { afterEach, expect, mock, test } from "bun:test";
import type { Subprocess } from "bun";
import * as procStat from "../../src/util/proc-stat.ts";
import { processAlive } from "../../src/util/process-alive.ts";

// Stopping 100 services at once scanned the host's processes at least 200 times. sessionMembers
// reads /proc once for every call made before the current microtasks have run; killSession's
// sweeps (one per exit) that come together share scans. The scans are counted through a
// wrapper that calls the real one; mock.module stays for the rest of the `bun test` process,
// which is harmless as long as the wrapper only counts.

let scans = 0;
const realLiveProcesses = procStat.liveProcesses;
mock.module("../../src/util/proc-stat.ts", () => ({
  ...procStat,
  liveProcesses: () => {
    scans++;
    return realLiveProcesses();
  },
}));
const { killSession, sessionMembers } = await import("../../src/daemon/services/process-group.ts");

const onLinux = process.platform === "linux";
if (!onLinux) console.log("skipped: sessionMembers scans /proc, which only Linux has");

const started: Subprocess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
});

function sleeper(detached: boolean): Subprocess {
  const child = Bun.spawn(["/bin/sleep", "30"], { detached, stdio: ["ignore", "ignore", "ignore"] });
  started.push(child);
  return child;
}

test.skipIf(!onLinux)("calls before the microtasks have run share one young scan; the next run, or an older scan, scans again", async () => {
  await Promise.resolve(); // a run of our own
  const before = scans;
  sessionMembers(process.pid);
  sessionMembers(process.pid);
  expect(scans - before).toBe(1);
  // Older than the reuse bound (5 ms) in the same run: scanned again.
  const until = performance.now() + 8;
  while (performance.now() < until);
  sessionMembers(process.pid);
  expect(scans - before).toBe(2);
  await Promise.resolve();
  sessionMembers(process.pid);
  expect(scans - before).toBe(3);
});

test.skipIf(!onLinux)("killSession sweeps that come together share scans; a lone one takes one scan", async () => {
  // Children in the test runner's own group lead no group or session: killSession finds
  // nothing to kill for them, and reaches its sweep in this run, all twenty together.
  const children = Array.from({ length: 20 }, () => sleeper(false));
  await Bun.sleep(20); // past any earlier sweep
  const before = scans;
  const gone = await Promise.all(children.map((c) => killSession(c.pid, 1_000)));
  expect(gone.every(Boolean)).toBe(true);
  // One scan at once, one for the rest (a stall of the runner could split them once more).
  expect(scans - before).toBeGreaterThanOrEqual(2);
  expect(scans - before).toBeLessThanOrEqual(3);
  for (const c of children) expect(processAlive(c.pid)).toBe(true); // nothing of ours was hit

  await Bun.sleep(20);
  const lone = scans;
  expect(await killSession(children[0]!.pid, 1_000)).toBe(true);
  expect(scans - lone).toBe(1);
});
