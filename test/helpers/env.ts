import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { liveProcesses } from "../../src/util/proc-stat.ts";

export const ROOT = resolve(import.meta.dir, "../..");
/** The compiled binary built by `npm test` (build.ts --current). */
export const ADI_BIN = join(ROOT, "dist", "adi");
export const BUN = process.execPath;
export const MAIN = join(ROOT, "src", "main.ts");

/** A fresh ADI_HOME under /tmp (short: unix socket paths are limited to 108 bytes). */
export function tempHome(): { home: string; env: Record<string, string>; cleanup(): void } {
  const base = mkdtempSync(join(tmpdir(), "adi-t-"));
  const home = join(base, "h");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ADI_HOME: home,
    NO_COLOR: "1",
  };
  delete env.ADI_DAEMON_SOCKET;
  delete env.ADI_DAEMON_PID;
  delete env.ADI_DAEMON_LOG;
  return { home, env, cleanup: () => rmSync(base, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` is true or the deadline passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export { processAlive as pidAlive } from "../../src/util/process-alive.ts";

/** The environment of a process (empty when it is gone or not ours to read). */
export function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/**
 * SIGKILL, by pid, every live process whose environment holds `entry` (such
 * as a test home's `ADI_HOME=…`): what a test started and something else
 * did not stop, like a daemon that lost a start race and took over once the
 * winner was stopped. Linux only (/proc); never this process.
 */
export function killCarrying(entry: string): void {
  for (const { pid } of liveProcesses()) {
    if (pid === process.pid || !environOf(pid).includes(entry)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/**
 * Record the delay of every setTimeout call until `restore()`; the timers
 * themselves still run. For tests of which timers code arms.
 */
export function recordTimeouts(): { delays: number[]; restore(): void } {
  const realSetTimeout = globalThis.setTimeout;
  const delays: number[] = [];
  globalThis.setTimeout = ((fn: () => void, ms?: number, ...rest: unknown[]) => {
    delays.push(ms ?? 0);
    return realSetTimeout(fn, ms, ...rest);
  }) as typeof setTimeout;
  return { delays, restore: () => void (globalThis.setTimeout = realSetTimeout) };
}
