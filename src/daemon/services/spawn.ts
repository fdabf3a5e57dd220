import { statSync } from "node:fs";
import { constants } from "node:os";
import type { Subprocess } from "bun";
import type { ServiceSpec } from "./spec.ts";

/**
 * Spawn a service's main process in its own session (pid = pgid = sid), with
 * piped stdout/stderr. Throws an Error whose message is fit for `last_error`
 * (Bun reports a missing cwd as a missing binary, so the cwd is checked first).
 */
export function spawnDetached(
  spec: ServiceSpec,
  env: Record<string, string>,
  ids: { uid: number; gid: number } | null,
): Subprocess<"ignore", "pipe", "pipe"> {
  if (spec.workingDir !== undefined && !isDirectory(spec.workingDir)) {
    throw new Error(`working directory ${spec.workingDir} does not exist`);
  }
  const argv0 = spec.argv[0] ?? "";
  try {
    return Bun.spawn(spec.argv, {
      cwd: spec.workingDir,
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
      ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`executable not found: ${argv0}`);
    if (code === "EACCES") throw new Error(`permission denied: ${argv0} is not executable`);
    throw err;
  }
}

/** Bun's signalCode may be a name or a number. */
export function signalName(signal: number | string | null): string | null {
  if (signal === null) return null;
  if (typeof signal === "string") return signal;
  return Object.entries(constants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
