import { ServiceState, type ServiceInfo } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import type { Color } from "../output.ts";

export function stateName(state: ServiceState): string {
  return (ServiceState[state] ?? "unspecified").toLowerCase();
}

const STATE_COLORS: Record<string, Color> = { running: "green", failed: "red", backoff: "yellow", starting: "cyan", stopping: "cyan" };

/** A state's colour by its name (stateName): docs/cli.md "Colour"; stopped and the rest are gray. */
export function stateColor(name: string): Color {
  return STATE_COLORS[name] ?? "gray";
}

/** The `--json` shape of a service (DESIGN §5). */
export function serviceJson(info: ServiceInfo) {
  return {
    name: info.name,
    state: stateName(info.state),
    pid: info.pid || null,
    uptime_secs: info.uptimeSecs,
    restarts: info.restarts,
    last_error: info.lastError || null,
    last_exit_code: info.lastExitCode ?? null,
    last_signal: info.lastSignal || null,
    plugin: info.plugin || null,
    command: info.command,
  };
}

/**
 * Request timeout for start/stop/restart of a service: a stop may wait the
 * service's whole stop timeout (10 s by default, configurable) before KILL,
 * longer than the client's default 10 s.
 */
export const SERVICE_OP_TIMEOUT_MS = 15 * 60_000;
