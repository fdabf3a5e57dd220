// The body of `adi daemon status`; status.ts declares the command.
import { AdiError, ErrorCode } from "../../errors.ts";
import { Exit, ExitWith } from "../exit.ts";
import type { ServiceInfo } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { formatDuration, out, paint, printJson, table } from "../output.ts";
import { stateColor, stateName } from "./format.ts";
import { daemonSocketPath, statusAndServices } from "./quick-query.ts";

const ORDER = ["running", "starting", "backoff", "stopping", "failed", "stopped"];

/** How many services are in each state (states with none are left out). */
function byState(list: ServiceInfo[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of list) counts[stateName(s.state)] = (counts[stateName(s.state)] ?? 0) + 1;
  const ordered: Record<string, number> = {};
  for (const k of [...ORDER, ...Object.keys(counts)]) if (counts[k] && !(k in ordered)) ordered[k] = counts[k];
  return ordered;
}

function servicesLine(list: ServiceInfo[]): string {
  if (list.length === 0) return "none";
  const parts: string[] = [];
  for (const [state, n] of Object.entries(byState(list))) parts.push(paint(1, stateColor(state), `${n} ${state}`));
  return `${list.length} total: ${parts.join(", ")}`;
}

/** `adi daemon status [--json]`: no citty here, so the fast path (../fast-path.ts) can run it too. */
export async function showStatus(json: boolean): Promise<void> {
  let status, list;
  try {
    [status, list] = await statusAndServices(5_000);
  } catch (error) {
    if (!(error instanceof AdiError) || error.code !== ErrorCode.UNAVAILABLE) throw error;
    const socket = daemonSocketPath();
    if (json) printJson({ running: false, socket });
    else out(`adi daemon: ${paint(1, "red", "not running")} (socket ${socket})\nstart it with \`adi daemon start\``);
    throw new ExitWith(Exit.notRunning);
  }
  if (json) {
    printJson({
      running: true,
      stopping: status.stopping,
      pid: status.pid,
      version: status.version,
      uptime_secs: status.uptimeSecs,
      socket: status.socketPath,
      home: status.home,
      log: status.logPath || null,
      isolation: { enabled: status.isolation, reason: status.isolationReason },
      services: { total: status.servicesTotal, running: status.servicesRunning, failed: status.servicesFailed, by_state: byState(list) },
      warnings: status.warnings,
    });
    return;
  }
  const rows = [
    ["version", status.version],
    ["pid", String(status.pid)],
    ["uptime", formatDuration(status.uptimeSecs)],
    ["socket", status.socketPath],
    ["isolation", status.isolation ? "on" : `off (${status.isolationReason})`],
    ["services", servicesLine(list)],
    ["log", status.logPath || "stderr (a daemon in the foreground: its terminal, or the journal under systemd)"],
  ];
  for (const warning of status.warnings) rows.push(["warning", paint(1, "yellow", warning)]);
  // The table without its (empty) header, indented under the first line.
  const state = status.stopping ? paint(1, "yellow", "stopping (shutting down; it exits once its services have stopped)") : paint(1, "green", "running");
  out(`adi daemon: ${state}\n  ${table(["", ""], rows).split("\n").slice(1).join("\n  ")}`);
}
