import type { CommandResultInit } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { FIXED_ENV } from "./resolve-command.ts";
import { joinChunks } from "../../protocol/write-queue.ts";
import { MAX_RESPONSE_FRAME } from "../../protocol/limits.ts";

export type { CommandResultInit };

export const DEFAULT_TIMEOUT_MS = 60_000;
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/**
 * Room a command result's response keeps, beside its two outputs' bytes, for
 * everything else in it: the envelope (id, the oneof's tag and length), the
 * outputs' tags and lengths, exit code, signal name, flags, duration. All of
 * that is under 100 bytes; this leaves far more.
 */
const RESULT_FIELDS_ALLOWANCE = 64 * 1024;
/**
 * Per stream (8 MiB less 32 KiB: 8,355,840 bytes): both streams full and the
 * other fields still fit one response frame, so a caller always gets its
 * result. At exactly 8 MiB each, the result would be 27 bytes over the frame
 * limit and the caller would get RESOURCE_EXHAUSTED instead.
 */
export const MAX_OUTPUT_BYTES = (MAX_RESPONSE_FRAME - RESULT_FIELDS_ALLOWANCE) / 2;
/** After TERM on timeout, how long before KILL (sudo relays TERM to a command we may not signal ourselves). */
const KILL_GRACE_MS = 1_000;
/** After that KILL, how long the leader may take to be reaped before the answer gives up on it. */
const UNKILLABLE_ANSWER_MS = 5_000;

/** How to start a command: the argv (already absolute) and the identity to switch to, if any. */
export interface ExecSpec {
  argv: string[];
  uid?: number;
  gid?: number;
  timeoutMs?: number;
  /** Per stream; at most (and by default) MAX_OUTPUT_BYTES. */
  maxOutputBytes?: number;
}

interface Collected {
  bytes: Uint8Array;
  truncated: boolean;
}

/**
 * Read a stream to its end, keeping at most `cap` bytes (the rest is drained
 * and dropped). `stop()` ends the reading early with what was kept: the write
 * end of our pipe can outlive the command (a daemonized grandchild), and the
 * answer must not wait for it.
 */
function collect(stream: ReadableStream<Uint8Array>, cap: number): { done: Promise<Collected>; stop(): void } {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  const keep = (chunk: Uint8Array) => {
    const take = Math.min(chunk.length, cap - kept);
    if (take < chunk.length) truncated = true;
    if (take <= 0) return;
    chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    kept += take;
  };
  const read = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      keep(value);
    }
  };
  let stopped = false;
  // A read that fails once we cancelled it still leaves what was kept, which is the answer; any other failure is the caller's error.
  const done = read()
    .catch((err) => {
      if (!stopped) throw err;
    })
    .then(() => ({ bytes: joinChunks(chunks, 0, chunks.length, kept), truncated }));
  // cancel() closes our read end; a writer still holding the other end gets EPIPE, not a hang.
  const stop = () => {
    stopped = true;
    void reader.cancel().catch(() => {});
  };
  return { done, stop };
}

/**
 * Why a command could not be started, as the caller should read it: a
 * missing file (or a symlink loop) is NOT_FOUND; arguments the kernel refuses
 * (E2BIG: one argument of 128 KiB or more, or all of them over its limit), a
 * path too long, or a file that is no program (no known format and no `#!`;
 * EISDIR where a kernel names a directory so, Linux says EACCES) are the
 * request's fault; a file the user it runs as may not execute is
 * PERMISSION_DENIED; a program being written is FAILED_PRECONDITION;
 * a host out of processes, memory or file descriptors is RESOURCE_EXHAUSTED.
 * Anything else is INTERNAL (logged): nothing a caller could have asked for.
 */
export function spawnErrorCode(errno: string | undefined): ErrorCode {
  switch (errno) {
    case "ENOENT":
    case "ENOTDIR":
    case "ELOOP":
      return ErrorCode.NOT_FOUND;
    case "E2BIG":
    case "ENAMETOOLONG":
    case "ENOEXEC":
    case "EISDIR":
    case "ELIBBAD":
      return ErrorCode.INVALID_ARGUMENT;
    case "EACCES":
    case "EPERM":
      return ErrorCode.PERMISSION_DENIED;
    case "ETXTBSY":
      return ErrorCode.FAILED_PRECONDITION;
    case "EAGAIN":
    case "ENOMEM":
    case "EMFILE":
    case "ENFILE":
      return ErrorCode.RESOURCE_EXHAUSTED;
    default:
      return ErrorCode.INTERNAL;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone, or (sudo mode) members we may not signal: sudo relays TERM to them.
  }
}

/**
 * Run one command: never through a shell, fixed environment, stdin /dev/null,
 * cwd /, only fds 0-2, in its own session (detached) so a timeout ends the
 * whole process group, output capped per stream. The answer comes by the
 * deadline (plus KILL_GRACE_MS when the command was still running then),
 * whatever still holds the pipes: past it, reading stops with what was kept.
 */
export async function execute(spec: ExecSpec): Promise<CommandResultInit> {
  const timeoutMs = Math.min(spec.timeoutMs || DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
  const cap = Math.min(spec.maxOutputBytes ?? MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES);
  const started = performance.now();
  let proc;
  try {
    proc = Bun.spawn(spec.argv, {
      cwd: "/",
      env: { ...FIXED_ENV },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
      ...(spec.uid !== undefined ? { uid: spec.uid, gid: spec.gid ?? spec.uid } : {}),
    });
  } catch (err) {
    throw new AdiError(spawnErrorCode((err as NodeJS.ErrnoException).code), `cannot run ${spec.argv[0]}: ${(err as Error).message}`);
  }
  const outReader = collect(proc.stdout, cap);
  const errReader = collect(proc.stderr, cap);
  const stopReading = () => {
    outReader.stop();
    errReader.stop();
  };
  let timedOut = false;
  // Until the leader is reaped its pid pins the group id: -pid can only be the command's.
  let leaderExited = false;
  let graceTimer: Timer | undefined;
  // The deadline outlives the leader: something outside its group (setsid -f) may still hold our pipes.
  const deadline = setTimeout(() => {
    timedOut = true;
    if (leaderExited) return stopReading();
    signalGroup(proc.pid, "SIGTERM");
    graceTimer = setTimeout(() => {
      if (!leaderExited) signalGroup(proc.pid, "SIGKILL");
      stopReading();
    }, KILL_GRACE_MS);
  }, timeoutMs);
  const exited = proc.exited.then((code) => {
    leaderExited = true;
    // The command is done: anything it left in its group (holding our pipes open) goes with it.
    signalGroup(proc.pid, "SIGKILL");
    return code;
  });
  // A leader KILL does not end (uninterruptible sleep, or one that made itself another user's) would hold
  // the answer, and the caller's slot, for ever: once the deadline, the grace and this wait have passed, it is given up on.
  let abandon: Timer | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    abandon = setTimeout(
      () => reject(new AdiError(ErrorCode.DEADLINE_EXCEEDED, `${spec.argv[0]} (pid ${proc.pid}) is still there ${UNKILLABLE_ANSWER_MS} ms after SIGKILL (uninterruptible sleep, or not this user's to signal): it is left running`)),
      timeoutMs + KILL_GRACE_MS + UNKILLABLE_ANSWER_MS,
    );
  });
  let stdout, stderr, code;
  try {
    [stdout, stderr, code] = await Promise.race([Promise.all([outReader.done, errReader.done, exited]), abandoned]);
  } catch (err) {
    stopReading();
    throw err;
  } finally {
    clearTimeout(abandon);
    clearTimeout(deadline);
    clearTimeout(graceTimer);
  }
  const signal = proc.signalCode == null ? "" : String(proc.signalCode);
  return {
    // Bun reports a signal death as 128+n, like a shell; `signal` names it.
    exitCode: code,
    stdout: stdout.bytes,
    stderr: stderr.bytes,
    stdoutTruncated: stdout.truncated,
    stderrTruncated: stderr.truncated,
    signal,
    timedOut,
    durationMs: Math.round(performance.now() - started),
  };
}
