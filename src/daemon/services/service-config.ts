import { isAbsolute } from "node:path";
import { createServiceConfig, type HealthCheckInit, type ServiceConfig } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { isValidName, NAME_PATTERN, normalizeStopSignal, type PluginManifest } from "../../plugins/manifest.ts";
import { argvProblem, DEFAULT_MAX_RESTARTS, DEFAULT_STOP_TIMEOUT_MS, envProblem, MAX_RESTARTS, MAX_STOP_TIMEOUT_MS, type HealthSpec, type ServiceSpec } from "./spec.ts";

/** Names that belong to the built-in plugins of the same name. */
export const RESERVED_NAMES = new Set(["hive", "indexer", "proxy", "cocoon"]);

const invalid = (message: string) => new AdiError(ErrorCode.INVALID_ARGUMENT, message);

/** Health probe limits: a day between probes, an hour for one. */
const MAX_HEALTH_INTERVAL_MS = 86_400_000;
const MAX_HEALTH_TIMEOUT_MS = 3_600_000;

/**
 * `value` ms, refused above `max`. These become timers, and a timer past
 * 2^31 − 1 ms fires after 1 ms: a long stop timeout would KILL at once, a
 * long health interval would probe every millisecond.
 */
function atMost(field: string, value: number, max: number): number {
  if (value > max) throw invalid(`${field} must be at most ${max} ms, got ${value}`);
  return value;
}

export function checkServiceName(name: string): void {
  if (!isValidName(name)) throw invalid(`service name ${JSON.stringify(name)} must match ${NAME_PATTERN.source}`);
}

function stopSignal(value: string | undefined): NodeJS.Signals {
  if (!value) return "SIGTERM";
  const signal = normalizeStopSignal(value);
  if (signal === null) throw invalid(`stop signal ${JSON.stringify(value)} is not supported (use SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 or SIGKILL)`);
  return signal as NodeJS.Signals;
}

function health(config: ServiceConfig): HealthSpec | undefined {
  const h = config.health;
  if (!h) return undefined;
  const common = {
    intervalMs: Math.max(atMost("health.interval_ms", h.intervalMs || 5_000, MAX_HEALTH_INTERVAL_MS), 100),
    timeoutMs: Math.max(atMost("health.timeout_ms", h.timeoutMs || 2_000, MAX_HEALTH_TIMEOUT_MS), 10),
    failureThreshold: Math.max(h.failureThreshold || 3, 1),
  };
  const probe = h.probe;
  switch (probe.case) {
    case "command": {
      if (!probe.value.command) throw invalid("health.command needs a command");
      const argv = [probe.value.command, ...probe.value.args];
      const problem = argvProblem(argv);
      if (problem) throw invalid(`health.command: ${problem}`);
      return { ...common, probe: { kind: "command", argv } };
    }
    case "tcp": {
      const m = /^(.*):(\d{1,5})$/.exec(probe.value);
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) throw invalid(`health.tcp must be host:port, got ${JSON.stringify(probe.value)}`);
      return { ...common, probe: { kind: "tcp", host: m[1]!.replace(/^\[|\]$/g, "") || "127.0.0.1", port } };
    }
    case "unix":
      if (!isAbsolute(probe.value)) throw invalid("health.unix must be an absolute socket path");
      return { ...common, probe: { kind: "unix", path: probe.value } };
    default:
      throw invalid("health needs a probe: command, tcp or unix");
  }
}

/** An ad-hoc definition sent with start_service. */
export function specFromConfig(name: string, config: ServiceConfig): ServiceSpec {
  checkServiceName(name);
  if (RESERVED_NAMES.has(name)) throw invalid(`${name} is reserved for the ${name} plugin; choose another name for an ad-hoc service`);
  if (!config.command) throw invalid(`service ${name}: a command is required`);
  if (config.workingDir && !isAbsolute(config.workingDir)) throw invalid(`service ${name}: working_dir must be absolute`);
  if (config.privileged) throw invalid(`service ${name}: privileged services are declared by plugins, not ad hoc`);
  const problem = argvProblem([config.command, ...config.args]) ?? envProblem(config.env);
  if (problem) throw invalid(`service ${name}: ${problem}`);
  // Left out, as a client that only asks for restart_on_failure would: the default, not 0 (never restart).
  const maxRestarts = config.maxRestarts ?? DEFAULT_MAX_RESTARTS;
  if (maxRestarts > MAX_RESTARTS) throw invalid(`service ${name}: max_restarts must be at most ${MAX_RESTARTS}, got ${maxRestarts}`);
  const spec: ServiceSpec = {
    name,
    argv: [config.command, ...config.args],
    env: { ...config.env },
    restartOnFailure: config.restartOnFailure,
    maxRestarts,
    stopTimeoutMs: atMost(`service ${name}: stop_timeout_ms`, config.stopTimeoutMs || DEFAULT_STOP_TIMEOUT_MS, MAX_STOP_TIMEOUT_MS),
    stopSignal: stopSignal(config.stopSignal),
  };
  if (config.workingDir) spec.workingDir = config.workingDir;
  const h = health(config);
  if (h) spec.health = h;
  return spec;
}

/** The service a plugin declares: its executable run with the service's subcommand. */
export function specFromPlugin(plugin: PluginManifest): ServiceSpec | undefined {
  const s = plugin.service;
  if (!s) return undefined;
  return {
    name: s.name,
    plugin: plugin.name,
    argv: [plugin.executable, s.command, ...s.args],
    env: { ...s.env },
    workingDir: s.workingDir ?? plugin.dir,
    restartOnFailure: s.restartOnFailure,
    maxRestarts: s.maxRestarts,
    stopTimeoutMs: s.stopTimeoutMs || DEFAULT_STOP_TIMEOUT_MS,
    stopSignal: (s.stopSignal ?? "SIGTERM") as NodeJS.Signals,
  };
}

const stringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
const stringMap = (v: unknown): v is Record<string, string> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
const whole = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** A stored health check as the config it came from; undefined when it is not one. */
function healthOfState(h: unknown): HealthCheckInit | undefined {
  if (typeof h !== "object" || h === null) return undefined;
  const { probe, intervalMs, timeoutMs, failureThreshold } = h as Record<string, unknown>;
  if (!whole(intervalMs) || !whole(timeoutMs) || !whole(failureThreshold) || typeof probe !== "object" || probe === null) return undefined;
  const p = probe as Record<string, unknown>;
  const common = { intervalMs, timeoutMs, failureThreshold };
  if (p.kind === "command" && stringList(p.argv) && p.argv.length > 0) return { ...common, probe: { case: "command", value: { command: p.argv[0]!, args: p.argv.slice(1) } } };
  if (p.kind === "tcp" && typeof p.host === "string" && whole(p.port)) {
    return { ...common, probe: { case: "tcp", value: p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}` } };
  }
  if (p.kind === "unix" && typeof p.path === "string") return { ...common, probe: { case: "unix", value: p.path } };
  return undefined;
}

/**
 * An ad-hoc definition read back from state.json, checked as if it had just
 * come with start_service: the file may have been edited or damaged, and a
 * name like `../x` would put the service's log outside logs/, a stop timeout
 * past a timer's range would KILL at once. Throws INVALID_ARGUMENT.
 */
export function specFromState(name: string, saved: unknown): ServiceSpec {
  const s = (typeof saved === "object" && saved !== null ? saved : {}) as Record<string, unknown>;
  const bad = (field: string) => invalid(`service ${JSON.stringify(name)}: ${field} in state.json is not valid`);
  if (!stringList(s.argv) || s.argv.length === 0) throw bad("argv");
  if (s.env !== undefined && !stringMap(s.env)) throw bad("env");
  if (s.workingDir !== undefined && typeof s.workingDir !== "string") throw bad("workingDir");
  if (typeof s.restartOnFailure !== "boolean") throw bad("restartOnFailure");
  if (!whole(s.maxRestarts)) throw bad("maxRestarts");
  if (!whole(s.stopTimeoutMs)) throw bad("stopTimeoutMs");
  if (typeof s.stopSignal !== "string") throw bad("stopSignal");
  const health = s.health === undefined ? undefined : healthOfState(s.health);
  if (s.health !== undefined && !health) throw bad("health");
  return specFromConfig(
    name,
    createServiceConfig({
      command: s.argv[0]!,
      args: s.argv.slice(1),
      env: s.env,
      workingDir: s.workingDir,
      restartOnFailure: s.restartOnFailure,
      maxRestarts: s.maxRestarts,
      stopTimeoutMs: s.stopTimeoutMs,
      stopSignal: s.stopSignal,
      health,
    }),
  );
}
