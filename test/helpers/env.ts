import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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
