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
 * Allocator settings for the daemon's process. mimalloc reads them once, as
 * the process starts, so whoever starts the daemon sets them: spawnDaemon
 * below, the units `adi daemon enable` writes (cli/system/units.ts), and
 * a daemon run otherwise sets them for itself (execWithDaemonAllocatorEnv).
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
 * For `adi daemon run` started by someone other than spawnDaemon or a unit
 * (by hand, a container's command, `npm start`): when a DAEMON_ALLOCATOR_ENV
 * setting is missing, execute this same command again, with them, in place
 * (execve: the pid, open files and terminal stay; nothing has been done yet).
 * Returns when there is nothing to do, on Windows (no execve), or when the
 * exec fails: the daemon then runs with the default, as it did before.
 */
export function execWithDaemonAllocatorEnv(): void {
  const env = withDaemonAllocatorEnv(process.env);
  let missing = false;
  for (const key of Object.keys(DAEMON_ALLOCATOR_ENV)) if (process.env[key] !== env[key]) missing = true;
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string | undefined>) => never }).execve;
  if (!missing || process.platform === "win32" || typeof execve !== "function") return;
  // A compiled adi is its own program (argv[1] is its embedded entry, /$bunfs/…); `bun [flags] main.ts` needs both again.
  const args = Bun.main.startsWith("/$bunfs/") ? process.argv.slice(2) : [...process.execArgv, ...process.argv.slice(1)];
  try {
    execve.call(process, process.execPath, [process.execPath, ...args], env);
  } catch {
    // Not replaced (a binary that has since gone, a sandbox without execve): run on as we are.
  }
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
    env: withDaemonAllocatorEnv(env),
    cwd: "/",
  });
  proc.unref();
  return proc.exited;
}
