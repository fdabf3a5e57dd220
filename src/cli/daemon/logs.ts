import { defineCommand } from "citty";
import { usageError } from "../exit.ts";
import { meta } from "../meta.ts";
import { logLines, MAX_LOG_LINES } from "../whole-number.ts";
import { parseSince } from "./log-format.ts";
import { showLogs, type LogsQuery } from "./logs-view.ts";

export default defineCommand({
  meta: meta(
    "logs",
    "Show recent log lines of one, several or all services, or follow them (-f) across restarts",
    ["adi daemon logs web -n 50", "adi daemon logs web api -f", "adi daemon logs --all -f --since 10m", "adi daemon logs web --json"],
  ),
  args: {
    name: { type: "positional", required: false, description: "Service(s); or --all" },
    all: { type: "boolean", alias: "a", description: "Every service (with -f: also those started later)" },
    lines: { type: "string", alias: "n", description: `Recent lines per service (default 100 for one service, 20 each for several; at most ${MAX_LOG_LINES})` },
    since: { type: "string", description: "Only lines from this time on: 90s, 10m, 1h, 2d or an ISO time" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines until Ctrl-C or the daemon stops" },
    json: { type: "boolean", description: "A JSON array of lines (with -f: one JSON object per line)" },
  },
  async run({ args }) {
    const positional = (args._ as string[]).filter((n) => n !== "");
    if (args.all && positional.length > 0) throw usageError("give service names or --all, not both");
    if (!args.all && positional.length === 0) throw usageError("name a service, or use --all: adi daemon logs web | adi daemon logs --all -f");
    let last: number | null = null;
    if (args.lines !== undefined) {
      // citty reads `-n=5` as "=5" (as start.ts's `-e=K=V`): the "=" belongs to the flag.
      const value = args.lines.startsWith("=") ? args.lines.slice(1) : args.lines;
      last = logLines(value); // the same rule as the fast path's (fast-path.ts plainLogs)
      if (last === null) throw usageError(`-n expects a whole number of lines, got ${JSON.stringify(args.lines)}`);
    }
    let since: number | null = null;
    if (args.since !== undefined) {
      since = parseSince(args.since);
      if (since === null) throw usageError(`--since expects a duration (90s, 10m, 1h, 2d) or an ISO time (2026-01-31T12:00:00Z), got ${JSON.stringify(args.since)}`);
    }

    const query: LogsQuery = { target: args.all ? "all" : [...new Set(positional)], last, since, json: Boolean(args.json) };
    if (!args.follow) return showLogs(query);
    return (await import("./logs-follow.ts")).followLogs(query); // only following needs the client: ≈ 2 ms for the rest
  },
});
