/** A service definition after validation: what the manager spawns. */

export type HealthProbe =
  | { kind: "command"; argv: string[] }
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string };

export interface HealthSpec {
  probe: HealthProbe;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failed probes before the service is restarted. */
  failureThreshold: number;
}

export interface ServiceSpec {
  name: string;
  /** The plugin that declares it; undefined for an ad-hoc service. */
  plugin?: string;
  /** Full argv: the executable first. */
  argv: string[];
  env: Record<string, string>;
  workingDir?: string;
  restartOnFailure: boolean;
  maxRestarts: number;
  stopTimeoutMs: number;
  stopSignal: NodeJS.Signals;
  health?: HealthSpec;
}

export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** The longest a service may be given between its stop signal and KILL (plugin.toml, ad-hoc configs, `--stop-timeout`): one hour. */
export const MAX_STOP_TIMEOUT_MS = 3_600_000;
/** The most restarts in a row a service may be given before FAILED (plugin.toml `max_restarts`, `--max-restarts`). */
export const MAX_RESTARTS = 1000;
/** Restarts in a row before FAILED when none are given (plugin.toml, the CLI, an ad-hoc config without `max_restarts`). */
export const DEFAULT_MAX_RESTARTS = 5;

/**
 * Why `env` cannot be a process environment, or null. exec(2) takes
 * `KEY=VALUE` strings: a key with "=" (`{"A=B": "c"}` becomes `A=B=c`, which
 * the service reads as A) or an empty key would hand the service another
 * environment than the one defined, and a NUL would cut a string short.
 */
export function envProblem(env: Record<string, string>): string | null {
  for (const [key, value] of Object.entries(env)) {
    if (key === "" || key.includes("=") || key.includes("\0")) return `env key ${JSON.stringify(key)} must be non-empty, without "=" or NUL`;
    if (value.includes("\0")) return `env ${key} must not contain NUL`;
  }
  return null;
}

/** Why `argv` cannot be exec'd as given (a NUL would cut an argument short), or null. */
export function argvProblem(argv: readonly string[]): string | null {
  const at = argv.findIndex((arg) => arg.includes("\0"));
  return at < 0 ? null : `${at === 0 ? "the command" : `argument ${at}`} must not contain NUL`;
}

/** Same definition? (a redefinition of a running ad-hoc service restarts it only when it changed) */
export function sameSpec(a: ServiceSpec, b: ServiceSpec): boolean {
  return JSON.stringify(comparable(a)) === JSON.stringify(comparable(b));
}

/** The spec with its environment in key order: `--env B=2 --env A=1` is the same definition as the other way round. */
function comparable(spec: ServiceSpec): ServiceSpec {
  const env: Record<string, string> = {};
  for (const key of Object.keys(spec.env).sort()) env[key] = spec.env[key]!;
  return { ...spec, env };
}

/**
 * Do the two definitions run the same process? They may differ in the
 * restart policy alone (restart_on_failure, max_restarts), which is read at
 * the service's next exit: changing it needs no restart.
 */
export function sameProcess(a: ServiceSpec, b: ServiceSpec): boolean {
  return sameSpec({ ...a, restartOnFailure: b.restartOnFailure, maxRestarts: b.maxRestarts }, b);
}
