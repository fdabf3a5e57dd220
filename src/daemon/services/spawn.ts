import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { constants } from "node:os";
import type { Subprocess } from "bun";
import { INSTANCE_VAR, processStartTime, recordInstance } from "./process-group.ts";
import type { ServiceSpec } from "./spec.ts";

/**
 * Spawn a service's main process in its own session (pid = pgid = sid), with
 * piped stdout/stderr, and its /proc start time (0 where unknown). Throws an
 * Error whose message is fit for `last_error` (Bun reports a missing cwd as
 * a missing binary, so the cwd is checked first).
 *
 * The environment gets INSTANCE_VAR = a fresh random token (the definition
 * cannot override it), remembered with the leader's pid and start time: the
 * stop, restart and crash sweeps also reach descendants that left the
 * session but still carry it (process-group.ts).
 */
export function spawnDetached(
  spec: ServiceSpec,
  env: Record<string, string>,
  ids: { uid: number; gid: number } | null,
): { proc: Subprocess<"ignore", "pipe", "pipe">; startTime: number } {
  if (spec.workingDir !== undefined && !isDirectory(spec.workingDir)) {
    throw new Error(`working directory ${spec.workingDir} does not exist`);
  }
  const argv0 = spec.argv[0] ?? "";
  const token = newInstanceToken();
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  try {
    proc = Bun.spawn(spec.argv, {
      cwd: spec.workingDir,
      env: { ...env, [INSTANCE_VAR]: token },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The same errno covers several causes: the file itself says which.
    const found = code === "ENOENT" || code === "EACCES" ? locate(argv0, env.PATH, spec.workingDir) : null;
    if (found !== null && isDirectory(found)) throw new Error(`${argv0} is a directory, not a program`);
    if (code === "ENOENT") {
      throw new Error(found === null ? `executable not found: ${argv0}` : `${argv0} exists, but the interpreter its #! line names (or a library it needs) was not found`);
    }
    // EACCES cannot say which: the file's mode, a directory above it, or the working directory
    // (a plugin service run as ADI_USER under a 0700 home: docs/security.md).
    if (code === "EACCES") {
      const who = ids ? `uid ${ids.uid}` : "this user";
      throw new Error(`permission denied running ${argv0} as ${who}: it is not executable, or ${who} may not enter a directory above it or the working directory ${spec.workingDir ?? "/"}`);
    }
    throw err;
  }
  // Read once, here: the record's proof that a pid is still this process, and the marker's key.
  const startTime = processStartTime(proc.pid) ?? 0;
  recordInstance(proc.pid, startTime, token);
  return { proc, startTime };
}

/** 32 random hex digits. Web Crypto, not node:crypto: loading that costs the daemon ≈ 20 ms of start and 2 MB (bench/README.md). */
function newInstanceToken(): string {
  let hex = "";
  for (const byte of crypto.getRandomValues(new Uint8Array(16))) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Bun's signalCode may be a name or a number. */
export function signalName(signal: number | string | null): string | null {
  if (signal === null) return null;
  if (typeof signal === "string") return signal;
  return Object.entries(constants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
}

/** Where `argv0` is, as exec would look for it (a path from the working directory, else a program on PATH); null if nowhere. */
function locate(argv0: string, path: string | undefined, cwd = "/"): string | null {
  if (!argv0.includes("/")) return Bun.which(argv0, { PATH: path ?? "", cwd });
  const full = resolve(cwd, argv0);
  return existsSync(full) ? full : null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
