import { defineCommand } from "citty";
import { EventKind, type ServiceEvent } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { runningClient } from "../connect.ts";
import { meta } from "../meta.ts";
import { err, out, paint, serviceColor, type Color } from "../output.ts";
import { stateName } from "./format.ts";

export function kindName(kind: EventKind): string {
  return (EventKind[kind] ?? "unspecified").toLowerCase();
}

const kindColor: Partial<Record<EventKind, Color>> = {
  [EventKind.STARTED]: "green",
  [EventKind.EXITED]: "yellow",
  [EventKind.RESTARTING]: "cyan",
  [EventKind.FAILED]: "red",
  [EventKind.STOPPED]: "gray",
  [EventKind.UNHEALTHY]: "red",
};

/** The `--json` line of an event: snake_case, kind and state lowercase, absent values null. */
export function eventJson(e: ServiceEvent) {
  return {
    time: new Date(e.timeUnixMs).toISOString(),
    service: e.service,
    kind: kindName(e.kind),
    state: stateName(e.state),
    pid: e.pid || null,
    exit_code: e.exitCode ?? null,
    signal: e.signal || null,
    restart_in_ms: e.kind === EventKind.RESTARTING ? e.restartInMs : null,
    message: e.message || null,
  };
}

function exitText(e: ServiceEvent): string {
  if (e.signal) return `signal ${e.signal}`;
  if (e.exitCode !== undefined) return `code ${e.exitCode}`;
  return "";
}

/** What happened, in words: "exited with code 1 (pid 42)", "restarting in 500 ms". */
export function eventText(e: ServiceEvent): string {
  switch (e.kind) {
    case EventKind.STARTED:
      return `started (pid ${e.pid})`;
    case EventKind.EXITED: {
      const how = exitText(e);
      return `exited${how ? ` with ${how}` : e.message ? `: ${e.message}` : ""}${e.pid ? ` (pid ${e.pid})` : ""}`;
    }
    case EventKind.RESTARTING:
      return `restarting in ${e.restartInMs} ms${e.message ? ` (${e.message})` : ""}`;
    case EventKind.FAILED:
      return `failed: ${e.message || "unknown reason"}`;
    case EventKind.STOPPED:
      return `stopped${e.message && e.message !== "stopped" ? ` (${e.message})` : ""}`;
    case EventKind.UNHEALTHY:
      return `unhealthy: ${e.message}`;
    default:
      return e.message || "event";
  }
}

export function formatEvent(e: ServiceEvent): string {
  const time = paint(1, "gray", new Date(e.timeUnixMs).toISOString());
  return `${time} ${paint(1, serviceColor(e.service), e.service)} ${paint(1, kindColor[e.kind] ?? "gray", eventText(e))}`;
}

export default defineCommand({
  meta: meta(
    "events",
    "Print service state changes as they happen (started, exited, restarting, failed, stopped, unhealthy)",
    ["adi daemon events", "adi daemon events --json | jq -c 'select(.kind == \"failed\")'"],
  ),
  args: { json: { type: "boolean", description: "One JSON object per line" } },
  async run({ args }) {
    const client = await runningClient();
    try {
      for await (const event of client.watchEvents()) out(args.json ? JSON.stringify(eventJson(event)) : formatEvent(event));
    } catch (error) {
      // The daemon stopping closes the connection: the stream is over, not failed.
      if (!(error instanceof AdiError) || error.code !== ErrorCode.UNAVAILABLE) throw error;
      err("adi daemon stopped: no more events");
    } finally {
      client.close();
    }
  },
});
