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

/** Same definition? (a redefinition of a running ad-hoc service restarts it only when it changed) */
export function sameSpec(a: ServiceSpec, b: ServiceSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
