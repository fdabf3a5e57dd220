/**
 * The restart policy, as pure functions of the service's history so it can
 * be tested without processes: restart on failure up to `maxRestarts` in a
 * row. The first restart of a streak is immediate (a one-off crash costs no
 * downtime); each further one waits `initialDelayMs`, doubling up to
 * `maxDelayMs`. A run that stayed up for `stableAfterMs` ends the streak
 * (like supervisord's startsecs); one its health check ended, only if it had
 * passed a probe that long after its start.
 */
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  stableAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 100, maxDelayMs: 30_000, stableAfterMs: 10_000 };

export interface ExitFacts {
  /** Exit code, or null when ended by a signal. */
  code: number | null;
  signal: string | null;
  /** How long the process ran (monotonic ms). */
  ranMs: number;
  /** Counted as a failure whatever the code (health check, vanished process). */
  failure?: string;
  /**
   * For a run its health check ended: how long it had been up at its last
   * passing probe (0 when none passed). Stability counts this, not ranMs: a
   * service whose probe never passes is condemned only after interval ×
   * threshold (15 s by default), past stableAfterMs, and each run would
   * otherwise end its own streak: restarted at once, forever, whatever
   * max_restarts says.
   */
  healthyMs?: number;
}

export type RestartDecision =
  | { action: "restart"; delayMs: number; streak: number }
  | { action: "fail"; reason: string; streak: number }
  | { action: "done"; reason: string; streak: number };

export function describeExit(exit: Pick<ExitFacts, "code" | "signal">): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

export function isFailure(exit: Pick<ExitFacts, "code" | "signal">): boolean {
  return exit.signal !== null || exit.code !== 0;
}

/** Delay before restart number `streak` (1-based) of a crash streak: 0, 100, 200, 400 … capped. */
export function backoffDelay(streak: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  if (streak <= 1) return 0;
  const exp = Math.min(streak - 2, 30);
  return Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** exp);
}

/**
 * What to do after an unexpected exit. `streak` is the number of restarts
 * already made in the current crash streak.
 */
export function decideRestart(
  exit: ExitFacts,
  policy: { restartOnFailure: boolean; maxRestarts: number },
  streak: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
): RestartDecision {
  const what = exit.failure ?? describeExit(exit);
  // A clean exit is a finished job, not a crash: it is not restarted.
  if (exit.failure === undefined && !isFailure(exit)) return { action: "done", reason: what, streak: 0 };
  if (!policy.restartOnFailure) return { action: "fail", reason: `${what} (restart_on_failure is off)`, streak };
  const current = (exit.healthyMs ?? exit.ranMs) >= opts.stableAfterMs ? 0 : streak;
  if (current >= policy.maxRestarts) {
    return { action: "fail", reason: `${what}; max restarts reached (${policy.maxRestarts})`, streak: current };
  }
  const next = current + 1;
  return { action: "restart", delayMs: backoffDelay(next, opts), streak: next };
}
