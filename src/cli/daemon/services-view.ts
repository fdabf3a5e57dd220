// The body of `adi daemon services`; services.ts declares the command.
import { ServiceState } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { formatDuration, out, paint, printJson, table } from "../output.ts";
import { serviceJson, stateColor, stateName } from "./format.ts";
import { servicesStartingDaemon } from "./quick-query.ts";

/** `adi daemon services [--json]`: no citty here, so the fast path (../fast-path.ts) can run it too. */
export async function showServices(json: boolean): Promise<void> {
  const list = await servicesStartingDaemon();
  if (json) {
    const services = [];
    for (const info of list) services.push(serviceJson(info));
    printJson(services);
    return;
  }
  if (list.length === 0) {
    out("no services (start one with `adi daemon start NAME -- CMD`)");
    return;
  }
  const rows: string[][] = [];
  for (const s of list) {
    const state = stateName(s.state);
    rows.push([
      s.name,
      paint(1, stateColor(state), state),
      s.pid ? String(s.pid) : "-",
      s.state === ServiceState.RUNNING ? formatDuration(s.uptimeSecs) : "-",
      String(s.restarts),
      s.state === ServiceState.BACKOFF ? `restarting in ${(s.nextRestartMs / 1000).toFixed(1)}s: ${s.lastError}` : s.lastError || "",
    ]);
  }
  out(table(["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST ERROR"], rows));
}
