import type { CommandResultInit } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { FIXED_ENV } from "./resolve-command.ts";

export type { CommandResultInit };

export const DEFAULT_TIMEOUT_MS = 60_000;
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/** Per stream; keeps a result well inside the 16 MiB response frame together with the other stream. */
export const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** After TERM on timeout, how long before KILL (sudo relays TERM to a command we may not signal ourselves). */
const KILL_GRACE_MS = 1_000;

/** How to start a command: the argv (already absolute) and the identity to switch to, if any. */
export interface ExecSpec {
  argv: string[];
  uid?: number;
  gid?: number;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

/** Read a stream to the end, keeping at most `cap` bytes (the rest is drained and dropped). */
async function collect(stream: ReadableStream<Uint8Array>, cap: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (kept >= cap) {
      truncated = true;
      continue;
    }
    const take = Math.min(chunk.length, cap - kept);
    if (take < chunk.length) truncated = true;
    chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
    kept += take;
  }
  const bytes = new Uint8Array(kept);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return { bytes, truncated };
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
 * whole process group, output capped per stream.
 */
export async function execute(spec: ExecSpec): Promise<CommandResultInit> {
  const timeoutMs = Math.min(spec.timeoutMs || DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
  const cap = spec.maxOutputBytes ?? MAX_OUTPUT_BYTES;
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
    throw new AdiError(ErrorCode.NOT_FOUND, `cannot run ${spec.argv[0]}: ${(err as Error).message}`);
  }
  let timedOut = false;
  let killTimer: Timer | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(proc.pid, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(proc.pid, "SIGKILL"), KILL_GRACE_MS);
  }, timeoutMs);
  const exited = proc.exited.then((code) => {
    clearTimeout(timer);
    // The command is done: anything it left in its group (holding our pipes open) goes with it.
    signalGroup(proc.pid, "SIGKILL");
    return code;
  });
  const [out, err, code] = await Promise.all([collect(proc.stdout, cap), collect(proc.stderr, cap), exited]);
  if (killTimer) clearTimeout(killTimer);
  const signal = proc.signalCode == null ? "" : String(proc.signalCode);
  return {
    // Bun reports a signal death as 128+n, like a shell; `signal` names it.
    exitCode: code,
    stdout: out.bytes,
    stderr: err.bytes,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
    signal,
    timedOut,
    durationMs: Math.round(performance.now() - started),
  };
}
