import { AdiError, ErrorCode } from "../../errors.ts";
import type { Caller } from "../caller.ts";
import type { Logger } from "../logger.ts";
import type { Approvals } from "../privilege/approvals.ts";
import { capArgv, capUtf8, MAX_REASON_BYTES, type AuditLog } from "../privilege/audit.ts";
import { execute, type CommandResultInit } from "../privilege/executor.ts";
import type { IsolationPlan, RunAs } from "../privilege/isolation.ts";
import { decideSudo, type SudoDecision } from "../privilege/policy.ts";
import { lookupOnFixedPath } from "../privilege/resolve-command.ts";
import type { Methods } from "../router.ts";
import { argvProblem } from "../services/spec.ts";

export interface ExecDeps {
  /** Pending while the daemon's first moments detect isolation; run and sudo_run wait for it. */
  plan: Promise<IsolationPlan>;
  logger: Logger;
  audit: AuditLog;
  /** Reads (and checks) the approvals file; throws when it is unusable. */
  approvals: () => Approvals;
  /** sha256 of an installed plugin's manifest now; null when it is not installed. */
  manifestSha: (plugin: string) => string | null;
  /** Default MAX_CONCURRENT_COMMANDS. */
  maxConcurrent?: number;
}

/** A request's command as an absolute path: a bare name through the fixed PATH, or an absolute path as given. */
function resolveRunCommand(command: string): string {
  if (command === "") throw new AdiError(ErrorCode.INVALID_ARGUMENT, "command is empty");
  if (command.includes("/")) {
    if (!command.startsWith("/")) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `command ${JSON.stringify(command)} must be a bare name or an absolute path`);
    return command;
  }
  const path = lookupOnFixedPath(command);
  if (!path) throw new AdiError(ErrorCode.NOT_FOUND, `command ${JSON.stringify(command)} not found on the fixed PATH`);
  return path;
}

function spawnAs(as: RunAs, argv: string[], timeoutMs: number): Promise<CommandResultInit> {
  return execute({ argv: [...as.prefix, ...argv], uid: as.uid, gid: as.gid, timeoutMs });
}

/** Commands one caller (a plugin, else a uid) may have running at once; more is RESOURCE_EXHAUSTED. */
export const MAX_CONCURRENT_COMMANDS = 32;

/** Counts running commands per caller so one plugin cannot fork-bomb the machine through the daemon. */
function concurrencyLimiter(limit: number) {
  const running = new Map<string, number>();
  /** A slot for the caller, or RESOURCE_EXHAUSTED; the function returned gives it back. */
  const acquire = (caller: Caller): (() => void) => {
    const key = caller.plugin ? `plugin:${caller.plugin}` : caller.service ? `service:${caller.service}` : `uid:${caller.uid}`;
    const n = running.get(key) ?? 0;
    if (n >= limit) throw new AdiError(ErrorCode.RESOURCE_EXHAUSTED, `at most ${limit} commands may run at once for one caller`);
    running.set(key, n + 1);
    return () => {
      const left = (running.get(key) ?? 1) - 1;
      if (left === 0) running.delete(key);
      else running.set(key, left);
    };
  };
  return {
    acquire,
    async run<T>(caller: Caller, fn: () => Promise<T>): Promise<T> {
      const release = acquire(caller);
      try {
        return await fn();
      } finally {
        release();
      }
    },
  };
}

function who(caller: Caller) {
  return { plugin: caller.plugin ?? "", service: caller.service ?? "", peer_uid: caller.uid, peer_pid: caller.pid };
}

/** run and sudo_run (DESIGN §7). */
export function execMethods(deps: ExecDeps): Methods {
  const { logger, audit } = deps;
  const slots = concurrencyLimiter(deps.maxConcurrent ?? MAX_CONCURRENT_COMMANDS);
  return {
    run: {
      access: "any",
      async handle({ request, caller }) {
        const problem = argvProblem([request.command, ...request.args]);
        if (problem) throw new AdiError(ErrorCode.INVALID_ARGUMENT, problem);
        const path = resolveRunCommand(request.command);
        const plan = await deps.plan;
        if (plan.refused) throw new AdiError(ErrorCode.FAILED_PRECONDITION, plan.refused);
        const result = await slots.run(caller, () => spawnAs(plan.run, [path, ...request.args], request.timeoutMs));
        logger.debug("run", { pid: caller.pid, plugin: caller.plugin, command: path, exit: result.exitCode });
        return { case: "commandResult", value: result };
      },
    },
    sudoRun: {
      access: "any",
      async handle({ request, caller }) {
        const plan = await deps.plan;
        const reason = capUtf8(request.reason, MAX_REASON_BYTES);
        // Capped like the reason: every denied request is a line, and the caller chooses its size.
        const argv = capArgv([request.command, ...request.args]);
        const base = { ...who(caller), argv: argv.argv, argv_truncated: argv.truncated, reason: reason.text, reason_truncated: reason.truncated };
        const problem = argvProblem([request.command, ...request.args]);
        const decision: SudoDecision = problem
          ? { allowed: false, reason: `invalid: ${problem}` }
          : decideSudo({
              caller,
              command: request.command,
              args: request.args,
              unavailable: plan.sudo ? null : plan.sudoReason,
              approvals: () => {
                try {
                  return deps.approvals();
                } catch (err) {
                  logger.error("approvals file rejected", { error: (err as Error).message });
                  throw err;
                }
              },
              manifestSha: deps.manifestSha,
            });
        const deny = (denyReason: string, pattern: string | null) => {
          const logged = audit.write({
            ...base,
            matched_pattern: pattern,
            resolved_path: null,
            decision: "denied",
            deny_reason: denyReason,
            exit_code: null,
            signal: null,
            timed_out: false,
            duration_ms: null,
          });
          // Over the caller's denial rate the audit log only counts them, and so does the daemon log.
          if (logged) logger.info("sudo_run denied", { plugin: caller.plugin, pid: caller.pid, reason: denyReason });
        };
        if (!decision.allowed || !plan.sudo) {
          const denyReason = decision.allowed ? plan.sudoReason : decision.reason;
          deny(denyReason, decision.allowed ? decision.pattern : (decision.pattern ?? null));
          return { case: "sudoDenied", value: { reason: denyReason } };
        }
        // Taken before "allowed" is written: a request over the caller's limit never runs, so it is
        // a denial, under the denial rate (an "allowed" line for each let a flood rotate the log away).
        let release: () => void;
        try {
          release = slots.acquire(caller);
        } catch (err) {
          deny((err as Error).message, decision.pattern);
          throw err;
        }
        const sudoBin = lookupOnFixedPath("sudo") ?? "/usr/bin/sudo";
        let result: CommandResultInit;
        try {
          result = await spawnAs(plan.sudo, [sudoBin, "-n", "--", decision.path, ...request.args], request.timeoutMs);
        } catch (err) {
          audit.write({ ...base, matched_pattern: decision.pattern, resolved_path: decision.path, decision: "allowed", deny_reason: null, exit_code: null, signal: null, timed_out: false, duration_ms: null, error: (err as Error).message });
          throw err;
        } finally {
          release();
        }
        audit.write({
          ...base,
          matched_pattern: decision.pattern,
          resolved_path: decision.path,
          decision: "allowed",
          deny_reason: null,
          exit_code: result.exitCode ?? null,
          signal: result.signal || null,
          timed_out: result.timedOut ?? false,
          duration_ms: result.durationMs ?? null,
        });
        logger.info("sudo_run", { plugin: caller.plugin, pid: caller.pid, command: decision.path, exit: result.exitCode });
        return { case: "commandResult", value: result };
      },
    },
  };
}
