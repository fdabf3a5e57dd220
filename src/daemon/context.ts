import type { AdiPaths } from "../config.ts";
import type { Logger } from "./logger.ts";

/** Whether run/sudo_run can switch to ADI_USER / ADI_ROOT_USER, and why not. */
export interface IsolationState {
  enabled: boolean;
  reason: string;
}

/** What the daemon's parts share; built once by the composition root. */
export interface DaemonContext {
  paths: AdiPaths;
  logger: Logger;
  version: string;
  /** performance.now() at start: uptime is monotonic, immune to clock jumps. */
  startedAt: number;
  /** Problems the user should see in `status` (e.g. an unwritable log dir). */
  warnings: Set<string>;
  /** Waits while isolation is still being detected (the daemon's first ≈ 35 ms). */
  isolation(): Promise<IsolationState>;
  /** The daemon's log file; "" when it logs to its stderr (`adi daemon run`). */
  logPath: string;
  /** true once shutdown has begun: ping and status say so, and a start waits for the exit. */
  stopping(): boolean;
  /** Begin shutting down; resolves when everything is stopped. */
  shutdown(graceful: boolean): Promise<void>;
}

export function uptimeSecs(ctx: DaemonContext): number {
  return Math.floor((performance.now() - ctx.startedAt) / 1000);
}
