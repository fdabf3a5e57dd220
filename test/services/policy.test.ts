import { describe, expect, test } from "bun:test";
import { backoffDelay, decideRestart, DEFAULT_BACKOFF } from "../../src/daemon/services/policy.ts";

const policy = { restartOnFailure: true, maxRestarts: 3 };
const crash = (ranMs = 50) => ({ code: 1, signal: null, ranMs });

describe("restart policy", () => {
  test("the first restart is immediate, then the delay doubles from 100 ms, capped at 30 s", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n))).toEqual([0, 100, 200, 400, 800, 1600]);
    expect(backoffDelay(10)).toBe(25_600);
    expect(backoffDelay(11)).toBe(30_000);
    expect(backoffDelay(1000)).toBe(30_000);
  });

  test("fast crashes restart with growing delays up to max_restarts, then fail with the reason", () => {
    let streak = 0;
    const delays: number[] = [];
    for (;;) {
      const d = decideRestart(crash(), policy, streak);
      streak = d.streak;
      if (d.action !== "restart") {
        expect(d).toEqual({ action: "fail", reason: "exited with code 1; max restarts reached (3)", streak: 3 });
        break;
      }
      delays.push(d.delayMs);
    }
    expect(delays).toEqual([0, 100, 200]);
  });

  test("a stable run resets the streak", () => {
    const d = decideRestart(crash(DEFAULT_BACKOFF.stableAfterMs), policy, 3);
    expect(d).toEqual({ action: "restart", delayMs: 0, streak: 1 });
    const unstable = decideRestart(crash(DEFAULT_BACKOFF.stableAfterMs - 1), policy, 3);
    expect(unstable.action).toBe("fail");
  });

  test("a run its health check ended is stable only if it passed a probe stableAfterMs after its start", () => {
    const sick = (ranMs: number, healthyMs: number) => ({ code: null, signal: "SIGTERM", ranMs, failure: "unhealthy (refused)", healthyMs });
    expect(decideRestart(sick(60_000, 0), policy, 3).action).toBe("fail");
    expect(decideRestart(sick(60_000, DEFAULT_BACKOFF.stableAfterMs - 1), policy, 3).action).toBe("fail");
    expect(decideRestart(sick(60_000, DEFAULT_BACKOFF.stableAfterMs), policy, 3)).toEqual({ action: "restart", delayMs: 0, streak: 1 });
  });

  test("signals count as failures and are named", () => {
    const d = decideRestart({ code: null, signal: "SIGKILL", ranMs: 5 }, { restartOnFailure: false, maxRestarts: 3 }, 0);
    expect(d).toEqual({ action: "fail", reason: "killed by SIGKILL (restart_on_failure is off)", streak: 0 });
  });

  test("a clean exit is done, not restarted; a forced failure (health, vanished) is restarted even with code 0", () => {
    expect(decideRestart({ code: 0, signal: null, ranMs: 5 }, policy, 2)).toEqual({ action: "done", reason: "exited with code 0", streak: 0 });
    const unhealthy = decideRestart({ code: 0, signal: null, ranMs: 5, failure: "unhealthy (connect refused)" }, policy, 0);
    expect(unhealthy).toEqual({ action: "restart", delayMs: 0, streak: 1 });
  });

  test("max_restarts = 0 fails at the first crash", () => {
    expect(decideRestart(crash(), { restartOnFailure: true, maxRestarts: 0 }, 0).action).toBe("fail");
  });
});
