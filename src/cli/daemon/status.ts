import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { cliClient } from "../connect.ts";
import { Exit, ExitWith } from "../exit.ts";
import { formatDuration, out, paint, printJson, table } from "../output.ts";

export default defineCommand({
  meta: meta("status", "Show whether the daemon is running, its paths and its services by state (exit 3 when it is not running)", ["adi daemon status", "adi daemon status --json"]),
  args: { json: { type: "boolean", description: "Print one JSON document" } },
  async run({ args }) {
    const client = cliClient(5_000);
    let status;
    try {
      status = await client.status();
    } catch (error) {
      if (!(error instanceof AdiError) || error.code !== ErrorCode.UNAVAILABLE) throw error;
      if (args.json) printJson({ running: false, socket: client.socketPath });
      else out(`adi daemon: ${paint(1, "red", "not running")} (socket ${client.socketPath})\nstart it with \`adi daemon start\``);
      throw new ExitWith(Exit.notRunning);
    } finally {
      client.close();
    }
    if (args.json) {
      printJson({
        running: true,
        pid: status.pid,
        version: status.version,
        uptime_secs: status.uptimeSecs,
        socket: status.socketPath,
        home: status.home,
        log: status.logPath,
        isolation: { enabled: status.isolation, reason: status.isolationReason },
        services: { total: status.servicesTotal, running: status.servicesRunning, failed: status.servicesFailed },
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
      ["services", `${status.servicesTotal} total, ${status.servicesRunning} running, ${status.servicesFailed} failed`],
      ["log", status.logPath],
      ...status.warnings.map((w) => ["warning", paint(1, "yellow", w)]),
    ];
    out(`adi daemon: ${paint(1, "green", "running")}`);
    out(table(["", ""], rows).split("\n").slice(1).map((line) => `  ${line}`).join("\n"));
  },
});
