import type { Subprocess } from "bun";
import { EventKind, LogStream, ServiceState, type ServiceEventInit, type ServiceInfoInit } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { processAlive } from "../../util/process-alive.ts";
import { watchHealth } from "./health.ts";
import { decideRestart, describeExit, DEFAULT_BACKOFF, type BackoffOptions } from "./policy.ts";
import { commandLine } from "./command-line.ts";
import { INSTANCE_VAR, instanceOf, killGroupQuick, killSession, signalSession } from "./process-group.ts";
import type { ServiceLog } from "./service-log.ts";
import type { ServiceSpec } from "./spec.ts";
import { signalName, spawnDetached } from "./spawn.ts";

/**
 * After a crash, the /proc sweep for session members outside the group runs
 * this much later: it costs tens of ms on a busy host and must not delay the
 * restart (it cannot touch the new generation, which has its own session).
 */
const SWEEP_DELAY_MS = 250;

/**
 * After an exit, how long the output pipes may take to reach their end
 * before the exit is logged and the stop answered. The last lines a service
 * writes (on SIGTERM, say) are in the pipes when it exits, and the exit can
 * be seen before they are read: `adi daemon stop web && adi daemon logs web`
 * then missed them, and "exited" was logged in the middle of them. The pipes
 * end as soon as nothing holds them, normally at once. After a crash, one
 * that left the group (or the session, with the generation's marker) holds
 * them until the sweep SWEEP_DELAY_MS later, and one the marker cannot
 * reach (process-group.ts) for good: such an exit waits the whole bound.
 */
const DRAIN_WAIT_MS = 100;

/** How a generation is asked to stop. */
type StopSettings = Pick<ServiceSpec, "stopSignal" | "stopTimeoutMs">;

/** How long a daemon shutdown waits, after the KILL loop, for a process that will not end (stopNow). */
const UNKILLABLE_WAIT_MS = 5_000;

export type { ServiceEventInit, ServiceInfoInit };

/** What a service needs from its manager. */
export interface ServiceHooks {
  /** State, child or desire changed: persist. */
  changed(): void;
  event(e: ServiceEventInit): void;
  /** Environment for the child (the spec's env is already merged in). */
  env(spec: ServiceSpec): Record<string, string>;
  /** Resolves when `spec` may be spawned (runAs can answer for it); start and restart wait for it. */
  spawnReady(spec: ServiceSpec): Promise<void>;
  runAs(spec: ServiceSpec): { uid: number; gid: number } | null;
  /** The daemon is shutting down: nothing new may start (it would outlive the daemon). */
  closing(): boolean;
  backoff?: BackoffOptions;
}

/** One running generation of the service. */
export interface Child {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  /** /proc start time (clock ticks since boot); 0 where unknown. */
  startTime: number;
  /** performance.now() at spawn. */
  startedAt: number;
  /** How to stop it: the definition's when it was spawned (a redefinition since does not apply to it). */
  stop: StopSettings;
  /** A stop was asked for: the exit is expected, no restart. */
  stopping: boolean;
  /** performance.now() by which what is left of it is KILLed: set with the stop signal (a stop, a health check's), sooner when forced. */
  killBy?: number;
  /** Set when a health probe condemned it: the exit counts as a failure. */
  unhealthy?: string;
  /** performance.now() of its last passing health probe, if any. */
  lastHealthyAt?: number;
  handled: boolean;
  /** Resolves once both output pipes have ended. */
  drained: Promise<unknown>;
  /** Resolves once the exit is handled and the whole session is gone. */
  done: Promise<void>;
  resolveDone(): void;
}

/**
 * One supervised service and its state machine:
 * STOPPED/FAILED --start--> STARTING --spawned--> RUNNING --exit--> BACKOFF --delay--> STARTING …
 * RUNNING --stop--> STOPPING --group gone--> STOPPED; exhausted restarts or a
 * spawn error -> FAILED. User operations are serialized; exits are handled
 * from the child's exit event, whenever it comes.
 */
export class Service {
  state: ServiceState = ServiceState.STOPPED;
  child: Child | null = null;
  /** Should it run? The user's last start/stop (null: never said); survives daemon restarts (state.json). */
  desired: boolean | null = null;
  restarts = 0;
  private streak = 0;
  lastError = "";
  lastExitCode: number | undefined;
  lastSignal = "";
  private backoffTimer: Timer | null = null;
  private nextStartAt = 0;
  private stopHealthWatch: (() => void) | null = null;
  private ops: Promise<unknown> = Promise.resolve();
  /** Operations queued or running in `ops` (a user's, or a backoff's restart). */
  private opsInFlight = 0;
  /** Removed (its plugin no longer declares it): an operation queued behind the removal's halt must not spawn it again. */
  private retired = false;
  /** What info() returns, every field present from the start (one object shape); `shownSpec` is the spec it shows. */
  private readonly shown: ServiceInfoInit = {
    name: "",
    state: ServiceState.STOPPED,
    pid: 0,
    uptimeSecs: 0,
    restarts: 0,
    lastError: "",
    lastExitCode: undefined,
    lastSignal: "",
    plugin: "",
    nextRestartMs: 0,
    command: "",
  };
  private shownSpec: ServiceSpec | null = null;

  constructor(
    public spec: ServiceSpec,
    readonly log: ServiceLog,
    private readonly hooks: ServiceHooks,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  /**
   * The service as `list_services` shows it: one object per service, refreshed in place by each
   * call, so encode it before the next. A fresh object per service per request was most of what
   * a `list_services` flood left for JSC to collect (≈ 16 of 22 KB per request with 100 services):
   * 5,000 requests took the daemon's RSS to 86–165 MB, depending on when it collected.
   */
  info(): ServiceInfoInit {
    const shown = this.shown;
    if (this.shownSpec !== this.spec) {
      this.shownSpec = this.spec;
      shown.name = this.spec.name;
      shown.plugin = this.spec.plugin ?? "";
      shown.command = commandLine(this.spec.argv); // quoted as a shell would take it: `sh -c 'echo hi; exit 3'`
    }
    const child = this.child;
    shown.state = this.state;
    shown.pid = child?.pid ?? 0;
    shown.uptimeSecs = child && this.state === ServiceState.RUNNING ? Math.floor((performance.now() - child.startedAt) / 1000) : 0;
    shown.restarts = this.restarts;
    shown.lastError = this.lastError;
    shown.lastExitCode = this.lastExitCode;
    shown.lastSignal = this.lastSignal;
    shown.nextRestartMs = this.state === ServiceState.BACKOFF ? Math.max(0, Math.round(this.nextStartAt - performance.now())) : 0;
    return shown;
  }

  /** Start (a no-op when already up); throws when the spawn fails. */
  start(): Promise<void> {
    return this.serialize(async () => {
      await this.hooks.spawnReady(this.spec);
      // An exit being handled (the session swept, the pipes drained: up to DRAIN_WAIT_MS) is no
      // running service: wait for it, or the start is lost when the exit then ends the service.
      if (this.child?.handled) await this.child.done;
      this.refuseWhileClosing();
      this.desired = true;
      if (this.child) {
        this.hooks.changed();
        return;
      }
      this.clearBackoff();
      this.resetHistory();
      this.spawn(true);
    });
  }

  stop(force: boolean): Promise<void> {
    if (force) this.escalate();
    return this.serialize(async () => {
      this.desired = false;
      await this.stopNow(force);
    });
  }

  restart(): Promise<void> {
    return this.serialize(async () => {
      await this.hooks.spawnReady(this.spec);
      this.refuseWhileClosing();
      this.desired = true;
      await this.stopNow(false);
      this.resetHistory();
      this.spawn(true);
    });
  }

  /**
   * A start or restart during shutdown is refused before it records that the
   * service is wanted: recorded, it would start with the next daemon although
   * the user was told it did not start.
   */
  private refuseWhileClosing(): void {
    if (this.hooks.closing()) throw new AdiError(ErrorCode.UNAVAILABLE, `cannot start ${this.name}: the daemon is shutting down`);
  }

  /** The service is being removed: stop it, and nothing may start it again (the manager forgets it first). */
  retire(): Promise<void> {
    this.retired = true;
    return this.halt(true);
  }

  /** Daemon shutdown: stop without changing what the user wants running. */
  halt(graceful: boolean): Promise<void> {
    if (!graceful) this.escalate();
    return this.serialize(() => this.stopNow(!graceful));
  }

  /**
   * A forced stop while a stop is already waiting (out its stop timeout, or
   * for the rest of the service after its main process left): KILL all of it
   * now, as `systemctl kill` does during a stop. Queued behind that stop, the
   * forced one would otherwise wait out the very timeout it was meant to cut.
   */
  private escalate(): void {
    const child = this.child;
    if (!child?.stopping || child.killBy === undefined || child.killBy <= performance.now()) return;
    child.killBy = performance.now();
    this.log.system("forced stop: sending SIGKILL");
    void killSession(child.pid, 2_000, child.startTime);
  }

  /** Liveness check: a leader that vanished without an exit event (or is a zombie nobody reaps). */
  checkAlive(): void {
    const child = this.child;
    if (!child || child.handled || processAlive(child.pid)) return;
    // Give the exit event a moment: it normally arrives right after the process dies.
    setTimeout(() => {
      if (!child.handled) void this.onExit(child, null, null, "process vanished (found by the liveness check)");
    }, 1_000);
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    this.opsInFlight++;
    const next = this.ops.then(op, op);
    this.ops = next.catch(() => {}).finally(() => this.opsInFlight--);
    return next;
  }

  private resetHistory(): void {
    this.restarts = 0;
    this.streak = 0;
    this.lastError = "";
    this.lastExitCode = undefined;
    this.lastSignal = "";
  }

  private setState(state: ServiceState): void {
    this.state = state;
    this.hooks.changed();
  }

  private emit(kind: EventKind, extra: { pid?: number; exitCode?: number; signal?: string; restartInMs?: number; message?: string } = {}): void {
    this.hooks.event({ service: this.name, kind, state: this.state, pid: this.pid, timeUnixMs: Date.now(), ...extra });
  }

  private fail(reason: string): void {
    this.lastError = reason;
    this.setState(ServiceState.FAILED);
    this.log.system(`failed: ${reason}`);
    this.emit(EventKind.FAILED, { message: reason });
  }

  /** Spawn a new generation. `userAsked`: a spawn error is thrown back to the caller too. */
  private spawn(userAsked: boolean): void {
    if (this.hooks.closing()) {
      if (userAsked) throw new AdiError(ErrorCode.UNAVAILABLE, `cannot start ${this.name}: the daemon is shutting down`);
      return;
    }
    if (this.retired) {
      const why = this.spec.plugin ? "its plugin no longer declares it" : "adi daemon remove";
      if (userAsked) throw new AdiError(ErrorCode.NOT_FOUND, `cannot start ${this.name}: it was removed (${why})`);
      return;
    }
    this.setState(ServiceState.STARTING);
    const { spec } = this;
    let spawned: ReturnType<typeof spawnDetached>;
    try {
      spawned = spawnDetached(spec, this.hooks.env(spec), this.hooks.runAs(spec));
    } catch (err) {
      const reason = `spawn failed: ${(err as Error).message}`;
      this.fail(reason);
      if (userAsked) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `cannot start ${this.name}: ${reason}`);
      return;
    }
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const { proc, startTime } = spawned;
    const child: Child = {
      proc,
      pid: proc.pid,
      startTime,
      startedAt: performance.now(),
      stop: { stopSignal: spec.stopSignal, stopTimeoutMs: spec.stopTimeoutMs },
      stopping: false,
      handled: false,
      // Only onExit waits for this, and a drain that failed must not hold the exit.
      drained: Promise.all([this.log.drain(proc.stdout, LogStream.STDOUT), this.log.drain(proc.stderr, LogStream.STDERR)]).catch(() => {}),
      done,
      resolveDone,
    };
    this.child = child;
    void proc.exited.then(() => {
      const signal = signalName(proc.signalCode);
      return this.onExit(child, signal === null ? proc.exitCode : null, signal);
    });
    this.log.system(`started pid ${child.pid}: ${commandLine(spec.argv)}`);
    this.setState(ServiceState.RUNNING);
    this.emit(EventKind.STARTED);
    this.startHealth(child);
  }

  private async onExit(child: Child, code: number | null, signal: string | null, vanished?: string): Promise<void> {
    if (child.handled) return;
    child.handled = true;
    const ranMs = performance.now() - child.startedAt;
    this.stopHealth();
    // Nothing of the service may outlive its leader: neither its session nor a
    // descendant that left it but carries the generation's marker
    // (process-group.ts). After a stop signal (a stop, or a health check's)
    // it waits until all of it is gone, KILLing nothing before `killBy`: the
    // signal went to all of it, and a worker may still be finishing after the
    // leader exited. Then what is left is KILLed (stopNow does so too).
    // A crash restart waits only for the process group (cheap); the rest is
    // swept by a /proc scan right after, which never touches the new
    // generation (its own session and marker).
    if (child.killBy !== undefined) await killSession(child.pid, 2_000, child.startTime, Math.max(0, child.killBy - performance.now()));
    else if (!(await killGroupQuick(child.pid))) await killSession(child.pid, 2_000, child.startTime);
    else setTimeout(() => void killSession(child.pid, 2_000, child.startTime), SWEEP_DELAY_MS);
    let waited: Timer | undefined;
    await Promise.race([child.drained, new Promise((r) => (waited = setTimeout(r, DRAIN_WAIT_MS)))]);
    clearTimeout(waited);
    if (this.child === child) this.child = null;
    this.lastExitCode = code ?? undefined;
    this.lastSignal = signal ?? "";
    const what = vanished ?? describeExit({ code, signal });
    this.log.system(what);
    child.resolveDone();
    if (child.stopping) return; // the stop operation sets the state
    this.emit(EventKind.EXITED, { pid: child.pid, exitCode: code ?? undefined, signal: signal ?? "", message: what });

    const failure = child.unhealthy !== undefined ? `unhealthy (${child.unhealthy}); ${what}` : vanished;
    const decision = decideRestart(
      { code, signal, ranMs, failure, healthyMs: child.unhealthy === undefined ? undefined : (child.lastHealthyAt ?? child.startedAt) - child.startedAt },
      this.spec,
      this.streak,
      this.hooks.backoff ?? DEFAULT_BACKOFF,
    );
    const reason = failure ?? what;
    this.streak = decision.streak;
    if (decision.action === "done") {
      this.lastError = "";
      this.desired = false;
      this.setState(ServiceState.STOPPED);
      // The last generation's, as a user stop's event carries them (docs/cli.md).
      this.emit(EventKind.STOPPED, { pid: child.pid, exitCode: code ?? undefined, signal: signal ?? "", message: reason });
      return;
    }
    if (decision.action === "fail") {
      this.fail(decision.reason);
      return;
    }
    this.lastError = reason;
    this.restarts++;
    this.nextStartAt = performance.now() + decision.delayMs;
    this.setState(ServiceState.BACKOFF);
    this.log.system(`restarting in ${decision.delayMs} ms (restart ${decision.streak} of ${this.spec.maxRestarts})`);
    this.emit(EventKind.RESTARTING, { restartInMs: decision.delayMs, message: reason });
    const respawn = () => {
      if (this.state === ServiceState.BACKOFF && !this.child) this.spawn(false);
    };
    const restart = () => void this.serialize(async () => respawn());
    // A first crash restarts at once, without a timer: Bun's setTimeout(0) waits ≈ 1 ms when
    // nothing else wakes the event loop. With no user operation queued it spawns right here, so
    // the state file is written once, after the spawn, not once for BACKOFF before it.
    if (decision.delayMs === 0) return this.opsInFlight === 0 ? respawn() : restart();
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      restart();
    }, decision.delayMs);
  }

  private async stopNow(force: boolean): Promise<void> {
    this.clearBackoff();
    const child = this.child;
    if (!child) {
      // Stopping a FAILED or BACKOFF service acknowledges it: STOPPED (last_error is kept).
      const was = this.state;
      this.setState(ServiceState.STOPPED);
      if (was !== ServiceState.STOPPED && !this.hooks.closing()) this.emit(EventKind.STOPPED, { message: `was ${ServiceState[was]?.toLowerCase()}` });
      return;
    }
    child.stopping = true;
    const stopWith = child.stop;
    // A forced stop gives nothing a grace: what the KILL loop below cannot end is not waited on for a stop timeout more.
    child.killBy = performance.now() + (force ? 0 : stopWith.stopTimeoutMs);
    this.setState(ServiceState.STOPPING);
    this.stopHealth();
    // `done` comes once the leader has exited and nothing of the service is
    // left (onExit), so the stop timeout covers all of it, not the leader only.
    // Once `killBy` has passed, onExit KILLs what is left too; the KILL loop
    // here still runs because onExit starts only when the leader has exited,
    // and the two loops share their /proc scans (process-group.ts sweepScan).
    if (force) {
      await killSession(child.pid, 2_000, child.startTime);
    } else {
      signalSession(child.pid, stopWith.stopSignal, child.startTime);
      const timeout = stopWith.stopTimeoutMs;
      let timer: Timer | undefined;
      const timedOut = await Promise.race([
        child.done.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeout))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.log.system(`still running ${timeout} ms after ${stopWith.stopSignal}: sending SIGKILL`);
        await killSession(child.pid, 2_000, child.startTime);
      }
    }
    if (this.hooks.closing()) {
      // A shutdown must end: a process that outlives SIGKILL (uninterruptible sleep, or one that made
      // itself another user's) is left behind, and said, instead of holding the daemon and every start waiting on it.
      let timer: Timer | undefined;
      const ended = await Promise.race([child.done.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), UNKILLABLE_WAIT_MS)))]);
      clearTimeout(timer);
      if (!ended) {
        this.log.system(`pid ${child.pid} is still there ${UNKILLABLE_WAIT_MS} ms after SIGKILL (uninterruptible sleep, or not this user's to signal): the daemon stops without it`);
        return;
      }
    } else await child.done;
    this.setState(ServiceState.STOPPED);
    this.emit(EventKind.STOPPED, { pid: child.pid, exitCode: this.lastExitCode, signal: this.lastSignal, message: force ? "killed" : "stopped" });
  }

  private clearBackoff(): void {
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
  }

  private startHealth(child: Child): void {
    const health = this.spec.health;
    if (!health) return;
    // The generation's marker: should the daemon die mid-probe, the sweeps find what the probe started.
    const marker = instanceOf(child.pid, child.startTime);
    const env = () => ({ ...this.hooks.env(this.spec), ...(marker ? { [INSTANCE_VAR]: marker } : {}) });
    this.stopHealthWatch = watchHealth(health, env, this.spec.workingDir, {
      active: () => !child.handled && !child.stopping && child.unhealthy === undefined,
      passed: () => (child.lastHealthyAt = performance.now()),
      failed: (problem, failures) => this.log.system(`health check failed (${failures}/${health.failureThreshold}): ${problem}`),
      unhealthy: (problem) => {
        child.unhealthy = problem;
        // As for a stop: after the main process exits, the rest keeps the stop timeout to finish.
        child.killBy = performance.now() + child.stop.stopTimeoutMs;
        this.emit(EventKind.UNHEALTHY, { message: problem });
        // Asked to stop like a user stop would; its exit then goes through the restart policy.
        signalSession(child.pid, child.stop.stopSignal, child.startTime);
        setTimeout(() => {
          if (!child.handled) signalSession(child.pid, "SIGKILL", child.startTime);
        }, child.stop.stopTimeoutMs);
      },
    });
  }

  private stopHealth(): void {
    this.stopHealthWatch?.();
    this.stopHealthWatch = null;
  }
}

