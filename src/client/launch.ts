import { AdiError, ErrorCode } from "../errors.ts";
import { withAbsolutePaths } from "../protocol/transport.ts";

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
 * Allocator settings for the daemon's process. mimalloc reads them once, as
 * the process starts, so whoever starts the daemon sets them: spawnDaemon
 * below, and the units `adi daemon enable` writes (cli/system/units.ts).
 * Bun's mimalloc gives the free holes in its pages back to the kernel at
 * most every 100 ms; a service printing 100k lines/s then had the daemon
 * fault its read buffers in again and again. Every 5 s instead: 318 → 235 ms
 * of CPU for 500k lines on a warm daemon, ≈ 20 ms less on a fresh one
 * (means of several runs), the same RSS (bench/README.md). A value already
 * in the environment wins (an empty one does not: mimalloc would read it as
 * 1 ms). Services do not inherit it: theirs is built from a list
 * (daemon/services/manager.ts).
 */
export const DAEMON_ALLOCATOR_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_HOLES_MIN_INTERVAL: "5000" };

/** `env` with DAEMON_ALLOCATOR_ENV's settings where it has none of its own. */
export function withDaemonAllocatorEnv<T extends Record<string, string | undefined>>(env: T): T {
  const out: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(DAEMON_ALLOCATOR_ENV)) if (!out[key]) out[key] = value;
  return out as T;
}

/**
 * A daemon started from inside a service (a plugin starting one for another
 * ADI_HOME) must not carry that service's generation marker
 * (ADI_SERVICE_INSTANCE): stopping the service would kill that daemon
 * with the service's other descendants.
 */
function withoutServiceMarker<T extends Record<string, string | undefined>>(env: T): T {
  const out: Record<string, string | undefined> = { ...env };
  delete out.ADI_SERVICE_INSTANCE;
  return out as T;
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
    env: withoutServiceMarker(withAbsolutePaths(withDaemonAllocatorEnv(env))),
    cwd: "/",
  });
  proc.unref();
  return proc.exited;
}
