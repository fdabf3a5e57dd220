import { readFileSync } from "node:fs";
import { liveProcesses, readProcStat } from "../../util/proc-stat.ts";
import { killTreeWindows } from "../../util/windows-kill.ts";
import { isInstanceToken, isSignallableId } from "./state-store.ts";

/**
 * Process-group and session helpers. Every service runs in its own session
 * (Bun.spawn `detached` = setsid, so pid = pgid = sid); signalling the group
 * reaches every descendant that did not create its own group, and scanning
 * /proc for the session catches those that did (but stayed in the session).
 * A descendant that left the session too (setsid, daemon(3), `redis-server
 * --daemonize yes`) is found by the generation's marker in its environment
 * (INSTANCE_VAR below), read from /proc/PID/environ.
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
  pruneMarkers(processes);
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

/**
 * The variable that marks every process of one service generation: spawn.ts
 * sets it to a fresh random token, which every descendant inherits, whatever
 * session or group it moves to. A process that clears its environment (or
 * execs with another one) loses it; so does one whose environ the daemon may
 * not read (another uid, or not dumpable, for a daemon without CAP_SYS_PTRACE).
 */
export const INSTANCE_VAR = "ADI_SERVICE_INSTANCE";

/**
 * A generation's marker, by its session id; the leader's start time guards
 * against a reused pid. `sidFree`: a scan found nothing of the session or
 * group left (or the pid taken by another process) while marked processes
 * live on: from then on the id may be handed out again, so it is never
 * signalled or matched any more, only the marked processes are.
 */
const instances = new Map<number, { startTime: number; token: string; sidFree?: boolean }>();

/** Remember the marker of the generation whose leader `sid` started at `startTime` (spawn.ts); forgotten once it is all gone. */
export function recordInstance(sid: number, startTime: number, token: string): void {
  if (hasProc && startTime > 0 && isInstanceToken(token)) instances.set(sid, { startTime, token });
}

/** The marker of the generation whose leader `sid` started at `minStartTime`, while any of it lives (state.json records it). */
export function instanceOf(sid: number, minStartTime: number): string | null {
  const entry = instances.get(sid);
  return entry !== undefined && minStartTime > 0 && entry.startTime === minStartTime ? entry.token : null;
}

/** May `sid` still be signalled as this generation's group? Not once its session was seen gone (instances). */
function sidIsOurs(sid: number, minStartTime: number): boolean {
  const entry = instances.get(sid);
  return !(entry !== undefined && entry.startTime === minStartTime && entry.sidFree === true);
}

function forgetInstance(sid: number, minStartTime: number): void {
  if (instances.get(sid)?.startTime === minStartTime) instances.delete(sid);
}

/** The first `KEY=` entry of a NUL-separated environment block, or null. */
export function environValue(environ: Buffer, key: string): string | null {
  const needle = `${key}=`;
  for (let i = environ.indexOf(needle); i !== -1; i = environ.indexOf(needle, i + 1)) {
    if (i !== 0 && environ[i - 1] !== 0) continue;
    const end = environ.indexOf(0, i + needle.length);
    return environ.toString("utf8", i + needle.length, end === -1 ? environ.length : end);
  }
  return null;
}

/**
 * Each process's marker, read from /proc/PID/environ once in its life (pid
 * + start time name one process). Only processes that started no earlier
 * than the generation's leader and are outside its group and session are
 * read, but on a host whose services started first that is most of them,
 * and stops scan often: read on every scan, they cost a lone stop ≈ 3 ms
 * more with 150 such processes (≈ 20 µs each; docs/services.md, "Cost").
 * An environment changes only by exec: a process seen with a marker is kept
 * as marked, which it is (a descendant of the generation). Not kept, and so
 * read again next time: a failed read (gone, or not ours to read: it may
 * become readable) and an empty one (a process in the middle of exec, or a
 * kernel thread on older kernels). A read that fails with ESRCH (a kernel
 * thread on newer ones) is kept as unmarked. Pruned to the live processes
 * when it grows past twice their number.
 */
const markerCache = new Map<number, { startTime: number; marker: string | null }>();

function markerOf(pid: number, startTime: number): string | null {
  if (pid === process.pid) return null;
  const hit = markerCache.get(pid);
  if (hit !== undefined && hit.startTime === startTime) return hit.marker;
  let environ: Buffer;
  try {
    environ = readFileSync(`/proc/${pid}/environ`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") markerCache.set(pid, { startTime, marker: null });
    return null;
  }
  const marker = environValue(environ, INSTANCE_VAR);
  if (environ.length > 0) markerCache.set(pid, { startTime, marker });
  return marker;
}

function pruneMarkers(processes: Processes): void {
  if (markerCache.size <= 2 * processes.length + 64) return;
  const live = new Set(processes.map(({ pid }) => pid));
  for (const pid of markerCache.keys()) if (!live.has(pid)) markerCache.delete(pid);
}

/**
 * The generation's live processes: its session and group, and (with its
 * marker) those that left both. Never the daemon itself, which may carry a
 * marker if it was started from inside a service.
 */
function membersOf(processes: Processes, sid: number, minStartTime: number, marker = instanceOf(sid, minStartTime)): number[] {
  const entry = marker === null ? undefined : instances.get(sid);
  // Marked processes can keep a stop or sweep going after the session is gone, for as long as the
  // stop timeout: once nothing holds the id, a new process may get it and lead a stranger's group.
  let bySid = entry?.sidFree !== true;
  if (bySid && entry !== undefined && processes.some(({ pid, stat }) => pid === sid && stat.startTime !== minStartTime)) bySid = false;
  const out: number[] = [];
  let sessionLeft = false;
  for (const { pid, stat } of processes) {
    if (stat.startTime < minStartTime) continue;
    if (bySid && (stat.session === sid || stat.pgrp === sid)) {
      out.push(pid);
      sessionLeft = true;
    } else if (marker !== null && markerOf(pid, stat.startTime) === marker) out.push(pid);
  }
  if (entry !== undefined && !sessionLeft) entry.sidFree = true;
  return out;
}

/** Live (not zombie) processes in session `sid` or process group `sid`, and those carrying its generation's marker. */
export function sessionMembers(sid: number, minStartTime = 0): number[] {
  if (!isServiceSession(sid)) return [];
  return membersOf(processesNow(), sid, minStartTime);
}

/**
 * KILL every live process carrying one of the markers `tokens` (never the
 * daemon) until none is left; the pids it found, and whether nothing
 * survived `timeoutMs`. For a crashed daemon's leftovers (recovery.ts).
 */
export async function killMarked(tokens: ReadonlySet<string>, minStartTime: number, timeoutMs = 5_000): Promise<{ found: number[]; gone: boolean }> {
  const found = new Set<number>();
  if (tokens.size === 0 || !hasProc) return { found: [], gone: true };
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const processes = await sweepScan();
    // Only what started after the oldest recorded leader can descend from one: the others' environ is not read.
    const left = processes.filter(({ pid, stat }) => stat.startTime >= minStartTime && tokens.has(markerOf(pid, stat.startTime) ?? "")).map(({ pid }) => pid);
    if (left.length === 0) return { found: [...found], gone: true };
    if (performance.now() > deadline) return { found: [...found], gone: false };
    for (const pid of left) {
      found.add(pid);
      kill(pid, "SIGKILL");
    }
    await Bun.sleep(10);
  }
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
 * but not the session, and for the generation's marked processes that left
 * both. Returns false if something survived `timeoutMs`.
 *
 * `graceMs`: first give the session that long to end by itself, sending
 * nothing (a stop: the stop signal went to all of it, and a worker may still
 * be finishing after the main process exited); KILL only what is left then.
 */
export async function killSession(sid: number, timeoutMs = 2_000, minStartTime = 0, graceMs = 0): Promise<boolean> {
  if (!isServiceSession(sid)) return true;
  const marker = instanceOf(sid, minStartTime);
  if (graceMs > 0 && (await sessionEnds(sid, graceMs, minStartTime, marker))) {
    forgetInstance(sid, minStartTime);
    return true;
  }
  const deadline = performance.now() + timeoutMs;
  if (sidIsOurs(sid, minStartTime)) await killGroupQuick(sid);
  for (;;) {
    const left = hasProc ? membersOf(await sweepScan(), sid, minStartTime, marker) : groupGone(sid) ? [] : [sid];
    if (left.length === 0) {
      forgetInstance(sid, minStartTime);
      return true;
    }
    if (performance.now() > deadline) return false;
    if (sidIsOurs(sid, minStartTime)) kill(group(sid), "SIGKILL");
    for (const pid of left) kill(pid, "SIGKILL");
    await Bun.sleep(10);
  }
}

/**
 * Wait, sending nothing, until nothing of the generation is alive; false if
 * something still is after `timeoutMs`. The group is polled with kill(0)
 * (cheap), from 1 ms apart up to 50; /proc is scanned (shared, as
 * killSession's sweeps) when the group is found empty, and every 20 ms up
 * to 200 ms regardless: a group that holds only zombies of a non-reaping
 * init is never "gone" to kill(0), and processes outside it are seen only by
 * a scan. So the usual stop (every process ends on the signal together)
 * costs one scan, as the KILL it replaces did.
 */
async function sessionEnds(sid: number, timeoutMs: number, minStartTime: number, marker: string | null): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let pause = 1;
  let scanPause = 20;
  let nextScan = performance.now() + scanPause;
  let wasGone = false;
  for (;;) {
    const gone = groupGone(sid);
    if ((gone && !wasGone) || performance.now() >= nextScan) {
      const left = hasProc ? membersOf(await sweepScan(), sid, minStartTime, marker) : gone ? [] : [sid];
      if (left.length === 0) return true;
      scanPause = Math.min(scanPause * 2, 200);
      nextScan = performance.now() + scanPause;
    }
    wasGone = gone;
    const now = performance.now();
    if (now >= deadline) return false;
    await Bun.sleep(Math.max(1, Math.min(pause, deadline - now, nextScan - now)));
    pause = Math.min(pause * 2, 50);
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
