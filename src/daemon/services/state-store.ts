import { readFileSync, renameSync } from "node:fs";
import { replaceFile } from "../../util/files.ts";
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
  /** The generation's marker (process-group.ts INSTANCE_VAR): finds what left its session after a crash. */
  instance?: string;
}

export interface PersistedState {
  version: 1;
  services: Record<string, PersistedService>;
  children: PersistedChild[];
}

export function emptyState(): PersistedState {
  return { version: 1, services: {}, children: [] };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A pid, process group or session the daemon may signal: a whole number
 * above 1. kill(-1) reaches every process the daemon may signal (as root,
 * the whole host) and kill(0) the daemon's own group, so a record with
 * such a number must never be acted on (process-group.ts refuses them too).
 */
export const isSignallableId = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 1 && v <= 0x7fffffff;

/** A generation's marker as spawn.ts makes it: 32 hex digits. Anything else, from a record or an environment, is ignored. */
export const isInstanceToken = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{32}$/.test(v);

/**
 * A child record as the daemon writes it, or null. A service leads its own
 * session and group (pid = pgid = sid): recovery proves the pid is still
 * the service's, and that proof covers the group and session only when they
 * are the same id.
 */
function childRecord(v: unknown): PersistedChild | null {
  if (!isObject(v) || typeof v.name !== "string" || !isSignallableId(v.pid) || v.pgid !== v.pid || v.sid !== v.pid) return null;
  if (typeof v.startTime !== "number" || !Number.isFinite(v.startTime) || v.startTime < 0) return null;
  const record: PersistedChild = { name: v.name, pid: v.pid, pgid: v.pgid, sid: v.sid, startTime: v.startTime };
  if (isInstanceToken(v.instance)) record.instance = v.instance;
  return record;
}

/**
 * Read the state; a missing file is an empty state, a corrupt one too (with
 * the reason). The file may have been edited or damaged: an entry of the
 * wrong shape is dropped with a problem naming it, the rest is kept. (Ad-hoc
 * definitions are checked as the daemon loads them: service-config.ts specFromState.)
 */
export function readState(path: string): { state: PersistedState; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: emptyState(), problems: [] };
    return { state: emptyState(), problems: [`cannot read ${path}: ${(err as Error).message}${setAside(path)}`] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
    if (!isObject(doc) || doc.version !== 1 || !isObject(doc.services) || !Array.isArray(doc.children)) throw new Error("unexpected shape");
  } catch (err) {
    return { state: emptyState(), problems: [`${path} is not valid state (${(err as Error).message})${setAside(path)}`] };
  }
  const problems: string[] = [];
  const state = emptyState();
  for (const [name, saved] of Object.entries(doc.services as Record<string, unknown>)) {
    if (isObject(saved) && typeof saved.desired === "boolean" && (saved.adhoc === undefined || isObject(saved.adhoc))) {
      state.services[name] = saved as unknown as PersistedService;
    } else problems.push(`${path}: service entry ${JSON.stringify(name)} is not a valid record; dropped`);
  }
  for (const entry of doc.children as unknown[]) {
    const child = childRecord(entry);
    if (child) state.children.push(child);
    else problems.push(`${path}: child record ${JSON.stringify(entry)?.slice(0, 200)} is not valid (pid, pgid and sid must be one whole number above 1); not acted on`);
  }
  return { state, problems };
}

/**
 * A state file the daemon cannot use is moved aside before the daemon writes
 * its own: a truncated file, a typo made by hand or a newer version's format
 * would otherwise be replaced by an empty state at once, every ad-hoc
 * definition and child record lost. Returns what to add to the problem.
 */
function setAside(path: string): string {
  const aside = `${path}.corrupt-${Date.now()}`;
  try {
    renameSync(path, aside);
    return `; kept as ${aside}, starting from an empty state`;
  } catch (err) {
    return `; starting from an empty state (it could not be kept: ${(err as Error).message})`;
  }
}

/** Write atomically (util/files.ts replaceFile): a full disk never leaves a truncated state in place of a good one. */
export function writeState(path: string, state: PersistedState): void {
  // Not synced: it is written on every state change, the sync (≈ 0.4 ms) landed in the crash-restart
  // path (kill -9 → new pid: 3.9 ms synced, 2.5 ms not, means of three A/B runs of 41 kills), and an
  // unusable file is set aside with a warning, not trusted.
  replaceFile(path, `${path}.tmp`, Buffer.from(JSON.stringify(state, null, 1)));
}
