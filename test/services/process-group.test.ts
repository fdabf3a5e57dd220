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
/** Processes a test adds to every scan (a stranger that took a freed id), none unless a test sets them. */
let strangers: Array<{ pid: number; stat: procStat.ProcStat }> = [];
const realLiveProcesses = procStat.liveProcesses;
mock.module("../../src/util/proc-stat.ts", () => ({
  ...procStat,
  liveProcesses: () => {
    scans++;
    return [...realLiveProcesses(), ...strangers];
  },
}));
const { environValue, groupGone, isServiceSession, killGroupQuick, killSession, processStartTime, recordInstance, sessionMembers, signalSession } = await import(
  "../../src/daemon/services/process-group.ts"
);

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
  const sid = 0x7ffffff0; // a session nobody leads: only the scans count here
  sessionMembers(sid);
  sessionMembers(sid);
  expect(scans - before).toBe(1);
  // Older than the reuse bound (5 ms) in the same run: scanned again.
  const until = performance.now() + 8;
  while (performance.now() < until);
  sessionMembers(sid);
  expect(scans - before).toBe(2);
  await Promise.resolve();
  sessionMembers(sid);
  expect(scans - before).toBe(3);
});

test("ids that are no service's session are never signalled: -1 would reach every process, 0 the daemon's group", async () => {
  // The predicate is tested, not kill(-1) itself: a broken guard must fail this test, not kill the host.
  for (const sid of [1, 0, -1, -5, process.pid, Number.NaN, 2.5, 2 ** 31]) expect({ sid, ok: isServiceSession(sid) }).toEqual({ sid, ok: false });
  // (The runner's own pid is excluded: in a fresh pid namespace it may be 2.)
  for (const sid of [2, 4242, 2 ** 31 - 1].filter((id) => id !== process.pid)) expect({ sid, ok: isServiceSession(sid) }).toEqual({ sid, ok: true });
  // Each helper asks it: with process.kill recording instead of signalling, none of them sends anything.
  const realKill = process.kill;
  const sent: number[] = [];
  process.kill = ((pid: number) => {
    sent.push(pid);
    return true;
  }) as typeof process.kill;
  try {
    for (const sid of [1, 0, -1, process.pid]) {
      signalSession(sid, "SIGKILL");
      expect(await killSession(sid, 50)).toBe(true);
      expect(await killGroupQuick(sid, 10)).toBe(true);
      expect(groupGone(sid)).toBe(true);
      expect(sessionMembers(sid)).toEqual([]);
    }
  } finally {
    process.kill = realKill;
  }
  expect(sent).toEqual([]);
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

test("environValue: the first KEY= entry of an environ block, never a longer name's tail", () => {
  const block = Buffer.from("XADI_SERVICE_INSTANCE=no\0PATH=/bin\0ADI_SERVICE_INSTANCE=abc\0ADI_SERVICE_INSTANCE=second\0EMPTY=\0", "utf8");
  expect(environValue(block, "ADI_SERVICE_INSTANCE")).toBe("abc");
  expect(environValue(block, "PATH")).toBe("/bin");
  expect(environValue(block, "EMPTY")).toBe("");
  expect(environValue(block, "MISSING")).toBeNull();
  expect(environValue(Buffer.from("A=1"), "A")).toBe("1"); // no trailing NUL
  expect(environValue(Buffer.alloc(0), "A")).toBeNull();
});

test.skipIf(!onLinux)("killSession reaches a descendant that left the session by the generation's marker, and nothing with another marker", async () => {
  const extra: number[] = [];
  try {
    const mine = "0123456789abcdef0123456789abcdef";
    const theirs = "fedcba9876543210fedcba9876543210";
    const env = (token: string) => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", ADI_SERVICE_INSTANCE: token });
    // The leader's grandchild starts a session of its own and prints its pid.
    const leader = Bun.spawn(["/bin/sh", "-c", "setsid /bin/sh -c 'echo $$; exec sleep 30' & exec sleep 30"], {
      detached: true,
      env: env(mine),
      stdio: ["ignore", "pipe", "ignore"],
    });
    started.push(leader);
    const { value } = await leader.stdout.getReader().read();
    const escaped = Number(new TextDecoder().decode(value).trim());
    extra.push(escaped);
    // Another generation (its own session and marker), started later.
    const other = Bun.spawn(["/bin/sleep", "30"], { detached: true, env: env(theirs), stdio: ["ignore", "ignore", "ignore"] });
    started.push(other);
    await Bun.sleep(50);
    const startTime = processStartTime(leader.pid)!;
    expect(sessionMembers(leader.pid, startTime)).not.toContain(escaped); // no marker known yet: the session only
    recordInstance(leader.pid, startTime, mine);
    await Promise.resolve();
    expect(sessionMembers(leader.pid, startTime)).toContain(escaped);
    expect(await killSession(leader.pid, 2_000, startTime)).toBe(true);
    expect(processAlive(escaped)).toBe(false);
    expect(processAlive(other.pid)).toBe(true);
  } finally {
    for (const pid of extra) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
});

test.skipIf(!onLinux)("once the session is gone while marked processes live on, its id is neither matched nor signalled: it may lead a stranger's group", async () => {
  const extra: number[] = [];
  try {
    const mine = "00112233445566778899aabbccddeeff";
    const leader = Bun.spawn(["/bin/sh", "-c", "setsid /bin/sh -c 'echo $$; exec sleep 30' & exec sleep 30"], {
      detached: true,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ADI_SERVICE_INSTANCE: mine },
      stdio: ["ignore", "pipe", "ignore"],
    });
    started.push(leader);
    const { value } = await leader.stdout.getReader().read();
    const escaped = Number(new TextDecoder().decode(value).trim());
    extra.push(escaped);
    const startTime = processStartTime(leader.pid)!;
    recordInstance(leader.pid, startTime, mine);
    leader.kill("SIGKILL");
    await leader.exited;
    await Bun.sleep(20);
    expect(sessionMembers(leader.pid, startTime)).toEqual([escaped]); // the session is seen gone
    // A newer process now holds the id as its group's: a pid handed out again.
    const stat = { ...procStat.readProcStat(process.pid)!, pgrp: leader.pid, session: 4_000_001, startTime: startTime + 1_000 };
    strangers = [{ pid: 4_000_001, stat }];
    await Promise.resolve();
    expect(sessionMembers(leader.pid, startTime)).toEqual([escaped]);
    expect(await killSession(leader.pid, 2_000, startTime)).toBe(true);
    expect(processAlive(escaped)).toBe(false);
  } finally {
    strangers = [];
    for (const pid of extra) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
});
