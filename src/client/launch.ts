import { AdiError, ErrorCode } from "../errors.ts";

/** How long ensureRunning waits for a freshly spawned daemon to answer. */
export const START_DEADLINE_MS = 5_000;

/**
 * The argv that runs `adi`: ADI_BIN, else `adi` on PATH. The CLI passes its
 * own executable instead; a plugin's process.execPath is the plugin, not adi.
 */
export function defaultLauncher(env: Record<string, string | undefined> = process.env): string[] {
  if (env.ADI_BIN) return [env.ADI_BIN];
  const found = Bun.which("adi");
  if (found) return [found];
  throw new AdiError(
    ErrorCode.UNAVAILABLE,
    "daemon is not running and the adi binary was not found: put adi on PATH or set ADI_BIN",
  );
}

/**
 * Start `adi daemon run --background` detached (its own session, no stdio),
 * so it outlives this process and the terminal. Resolves with the child's
 * exit promise so the caller notices a daemon that died during start-up.
 */
export function spawnDaemon(launcher: string[], env: Record<string, string | undefined>): Promise<number> {
  const proc = Bun.spawn([...launcher, "daemon", "run", "--background"], {
    detached: true,
    stdio: ["ignore", "ignore", "ignore"],
    env,
    cwd: "/",
  });
  proc.unref();
  return proc.exited;
}
