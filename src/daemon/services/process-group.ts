import { liveProcesses, readProcStat } from "../../util/proc-stat.ts";
import { killTreeWindows } from "../../util/windows-kill.ts";
import { isSignallableId } from "./state-store.ts";

/**
 * Process-group and session helpers. Every service runs in its own session
 * (Bun.spawn `detached` = setsid, so pid = pgid = sid); signalling the group
 * reaches every descendant that did not create its own group, and scanning
 * /proc for the session catches those that did (but stayed in the session).
 */

const hasProc = process.platform === "linux";
/** Windows has no process groups for kill(): the main process is all we can signal. */
const group = (pgid: number) => (process.platform === "win32" ? pgid : -pgid);

/** The process's start time, or null when it is gone (or on a system without /proc). */
export function processStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

/**
 * One /proc scan serves every sessionMembers call made before the current
 * microtasks have all run, as if they had scanned one right after another,
 * but only while it is younger than SCAN_REUSE_MS: a long run of synchronous
 * work (stopping 100 services) must not act on an old picture. Stopping 100
 * services scanned /proc at least twice per service, each scan reading the
 * stat of every process on the host.
 */
const SCAN_REUSE_MS = 5;
type Processes = ReturnType<typeof liveProcesses>;
let snapshot: { processes: Processes; at: number } | null = null;

/** This run's scan, if young enough; `fresh` scans again (later callers share the new one). */
function processesNow(fresh = false): Processes {
  if (snapshot && !fresh && performance.now() - snapshot.at < SCAN_REUSE_MS) return snapshot.processes;
  if (!snapshot) {
    queueMicrotask(() => {
      snapshot = null;
    });
  }
  const processes = liveProcesses();
  snapshot = { processes, at: performance.now() };
  return processes;
}

/**
 * killSession's scans, which come one per exit, each in its own turn of the
 * event loop: one that comes within SWEEP_GAP_MS of the end of the previous
 * scan waits for the next, which serves every sweep waiting by then. A lone
 * stop scans at once; a hundred at once take a scan per SWEEP_GAP_MS, not one
 * each, however long a scan takes (5–10 ms with 200 processes). Each caller's
 * scan is taken after its call, so it misses nothing a scan of its own would
 * have seen.
 */
const SWEEP_GAP_MS = 5;
let lastSweepAt = Number.NEGATIVE_INFINITY;
let nextSweep: Promise<Processes> | null = null;

function sweepScan(): Promise<Processes> {
  if (nextSweep) return nextSweep;
  const wait = lastSweepAt + SWEEP_GAP_MS - performance.now();
  if (wait <= 0) {
    try {
      return Promise.resolve(processesNow(true));
    } finally {
      lastSweepAt = performance.now();
    }
  }
  nextSweep = new Promise((resolve, reject) =>
    setTimeout(() => {
      nextSweep = null;
      try {
        resolve(processesNow(true));
      } catch (error) {
        reject(error);
      } finally {
        lastSweepAt = performance.now();
      }
    }, wait),
  );
  return nextSweep;
}

function membersOf(processes: Processes, sid: number, minStartTime: number): number[] {
  return processes.filter(({ stat }) => (stat.session === sid || stat.pgrp === sid) && stat.startTime >= minStartTime).map(({ pid }) => pid);
}

/** Live (not zombie) processes in session `sid` or process group `sid`. */
export function sessionMembers(sid: number, minStartTime = 0): number[] {
  if (!isServiceSession(sid)) return [];
  return membersOf(processesNow(), sid, minStartTime);
}

/**
 * Only a service's own group or session is ever signalled: never -1 (every
 * process the daemon may signal), 0 (the daemon's own group) or the daemon
 * itself, whatever a record says (state-store.ts).
 */
export const isServiceSession = (sid: number) => isSignallableId(sid) && sid !== process.pid;

function kill(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // ESRCH: already gone. EPERM: not ours (a reused pid); never escalate.
  }
}

/** Signal the whole group, then every straggler still in the session. */
export function signalSession(sid: number, signal: NodeJS.Signals, minStartTime = 0): void {
  // Windows: no groups to signal; taskkill /T (then /T /F for KILL) stops the tree.
  if (!isServiceSession(sid)) return;
  if (process.platform === "win32") return killTreeWindows(sid, signal);
  kill(group(sid), signal);
  for (const pid of sessionMembers(sid, minStartTime)) kill(pid, signal);
}

/**
 * KILL everything in the session and wait until nothing of it is alive
 * (zombies count as gone: their parent may be a non-reaping init). The group
 * goes first (cheap), then /proc is scanned for members that left the group
 * but not the session. Returns false if something survived `timeoutMs`.
 */
export async function killSession(sid: number, timeoutMs = 2_000, minStartTime = 0): Promise<boolean> {
  if (!isServiceSession(sid)) return true;
  const deadline = performance.now() + timeoutMs;
  await killGroupQuick(sid);
  for (;;) {
    const left = hasProc ? membersOf(await sweepScan(), sid, minStartTime) : groupGone(sid) ? [] : [sid];
    if (left.length === 0) return true;
    if (performance.now() > deadline) return false;
    kill(group(sid), "SIGKILL");
    for (const pid of left) kill(pid, "SIGKILL");
    await Bun.sleep(10);
  }
}

/** Is process group `pgid` empty? (signal 0 reaches zombies too: a group of unreaped zombies is not "empty") */
export function groupGone(pgid: number): boolean {
  if (!isServiceSession(pgid)) return true;
  try {
    process.kill(group(pgid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * KILL the process group and wait (briefly) until it is empty. Cheap: no
 * /proc scan, which costs tens of ms on a host with hundreds of processes.
 * Returns false when the group did not empty in time (e.g. zombies nobody
 * reaps): then use `killSession`.
 */
export async function killGroupQuick(pgid: number, timeoutMs = 50): Promise<boolean> {
  if (!isServiceSession(pgid)) return true;
  kill(group(pgid), "SIGKILL");
  const deadline = performance.now() + timeoutMs;
  while (!groupGone(pgid)) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(1);
  }
  return true;
}
