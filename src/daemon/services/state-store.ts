import { closeSync, constants, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import type { ServiceSpec } from "./spec.ts";

/**
 * $ADI_HOME/state.json: what must survive the daemon (DESIGN §6).
 * - services: which should run (the user's last start/stop), and ad-hoc definitions;
 * - children: every live service process (pid + /proc start time + group), so
 *   the next daemon can find what a crashed one left behind.
 */
export interface PersistedService {
  desired: boolean;
  adhoc?: ServiceSpec;
}

export interface PersistedChild {
  name: string;
  pid: number;
  pgid: number;
  sid: number;
  startTime: number;
}

export interface PersistedState {
  version: 1;
  services: Record<string, PersistedService>;
  children: PersistedChild[];
}

export function emptyState(): PersistedState {
  return { version: 1, services: {}, children: [] };
}

/** Read the state; a missing file is an empty state, a corrupt one too (with the reason). */
export function readState(path: string): { state: PersistedState; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: emptyState() };
    return { state: emptyState(), problem: `cannot read ${path}: ${(err as Error).message}` };
  }
  try {
    const doc = JSON.parse(text) as Partial<PersistedState>;
    if (doc.version !== 1 || typeof doc.services !== "object" || !Array.isArray(doc.children)) throw new Error("unexpected shape");
    return { state: { version: 1, services: doc.services ?? {}, children: doc.children } };
  } catch (err) {
    return { state: emptyState(), problem: `${path} is not valid state (${(err as Error).message}); starting from an empty state` };
  }
}

/** Write atomically: a fresh 0600 file renamed over the old one (never follows a symlink). */
export function writeState(path: string, state: PersistedState): void {
  const tmp = `${path}.tmp`;
  try {
    unlinkSync(tmp);
  } catch {}
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, JSON.stringify(state, null, 1));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
