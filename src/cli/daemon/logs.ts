import { defineCommand } from "citty";
import { EventKind, type LogLine, type ServiceEvent } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import type { DaemonClient } from "../../client/daemon-client.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { usageError } from "../exit.ts";
import { meta } from "../meta.ts";
import { err } from "../output.ts";
import { LogPrinter, mergeByTime, overlap, parseSince } from "./log-format.ts";
import { cut, EVERYTHING, showLogs, windowFor, type LogsQuery, type Window } from "./logs-view.ts";

const daemonGone = (e: unknown) => e instanceof AdiError && e.code === ErrorCode.UNAVAILABLE;

/**
 * Following several services on one connection. Each follow stream opens
 * before its backlog is read (so no line falls between the two); the lines
 * both carry are dropped from the stream (overlap()). Backlogs of all
 * services are printed merged by time, then live lines as they come.
 */
class Follow {
  private readonly followed = new Map<string, { buffer: LogLine[] | null }>();
  private finish!: (message?: string) => void;
  private fail!: (e: unknown) => void;
  readonly done = new Promise<string | undefined>((resolve, reject) => {
    this.finish = resolve;
    this.fail = reject;
  });

  constructor(
    private readonly client: DaemonClient,
    private readonly printer: LogPrinter,
    private readonly all: boolean,
  ) {
    this.done.catch(() => {}); // awaited by run() once the backlog is out; an early failure is thrown there
  }

  /** Open follow streams for these services; resolves with their backlogs (not yet printed). */
  async open(names: string[], window: Window): Promise<LogLine[][]> {
    for (const name of names) this.pump(name);
    const tails = await Promise.all(names.map((name) => this.client.logs(name, { lines: window.request })));
    return names.map((name, i) => {
      const tail = tails[i]!;
      const entry = this.followed.get(name);
      if (entry?.buffer) entry.buffer.splice(0, overlap(tail, entry.buffer));
      return cut(tail, window);
    });
  }

  /** Backlogs are printed: print what the streams brought meanwhile, then go live. */
  goLive(names: string[]): void {
    for (const name of names) {
      const entry = this.followed.get(name);
      if (!entry?.buffer) continue;
      const pending = entry.buffer;
      entry.buffer = null;
      for (const line of pending) this.printer.print(line);
    }
  }

  /**
   * --all: a service that appears later is followed from its start. The
   * events stream was opened before the list of services was asked for, so
   * a service created in between is seen here (and one in the list is skipped).
   */
  async watchNew(events: AsyncIterableIterator<ServiceEvent>): Promise<void> {
    try {
      for await (const event of events) {
        if (event.kind !== EventKind.STARTED || this.followed.has(event.service)) continue;
        const name = event.service;
        this.printer.widen(name);
        try {
          const [backlog] = await this.open([name], { request: EVERYTHING, since: event.timeUnixMs - 1_000, last: null });
          for (const line of backlog ?? []) this.printer.print(line);
          this.goLive([name]);
        } catch (e) {
          if (!(e instanceof AdiError && e.code === ErrorCode.NOT_FOUND)) throw e;
          this.followed.delete(name); // gone again already
        }
      }
      this.finish();
    } catch (e) {
      if (daemonGone(e)) this.finish("adi daemon stopped: no more logs");
      else this.fail(e);
    }
  }

  private pump(name: string): void {
    const entry = { buffer: [] as LogLine[] | null };
    this.followed.set(name, entry);
    void (async () => {
      try {
        for await (const line of this.client.logs(name, { lines: 0, follow: true })) {
          if (entry.buffer) entry.buffer.push(line);
          else this.printer.print(line);
        }
        // The daemon ended this stream: the service was removed.
        this.printer.separator(name, "removed: no more logs");
        this.followed.delete(name);
        if (!this.all && this.followed.size === 0) this.finish();
      } catch (e) {
        if (daemonGone(e)) this.finish("adi daemon stopped: no more logs");
        else if (e instanceof AdiError && e.code === ErrorCode.NOT_FOUND && this.all) this.followed.delete(name);
        else this.fail(e);
      }
    })();
  }
}

export default defineCommand({
  meta: meta(
    "logs",
    "Show recent log lines of one, several or all services, or follow them (-f) across restarts",
    ["adi daemon logs web -n 50", "adi daemon logs web api -f", "adi daemon logs --all -f --since 10m", "adi daemon logs web --json"],
  ),
  args: {
    name: { type: "positional", required: false, description: "Service(s); or --all" },
    all: { type: "boolean", alias: "a", description: "Every service (with -f: also those started later)" },
    lines: { type: "string", alias: "n", description: "Recent lines per service (default 100 for one service, 20 each for several)" },
    since: { type: "string", description: "Only lines from this time on: 90s, 10m, 1h, 2d or an ISO time" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines until Ctrl-C or the daemon stops" },
    json: { type: "boolean", description: "One JSON object per line" },
  },
  async run({ args }) {
    const positional = (args._ as string[]).filter((n) => n !== "");
    if (args.all && positional.length > 0) throw usageError("give service names or --all, not both");
    if (!args.all && positional.length === 0) throw usageError("name a service, or use --all: adi daemon logs web | adi daemon logs --all -f");
    let last: number | null = null;
    if (args.lines !== undefined) {
      last = Number(args.lines);
      if (!Number.isInteger(last) || last < 0) throw usageError(`-n expects a whole number of lines, got ${JSON.stringify(args.lines)}`);
    }
    let since: number | null = null;
    if (args.since !== undefined) {
      since = parseSince(args.since);
      if (since === null) throw usageError(`--since expects a duration (90s, 10m, 1h, 2d) or an ISO time (2026-01-31T12:00:00Z), got ${JSON.stringify(args.since)}`);
    }

    const query: LogsQuery = { target: args.all ? "all" : [...new Set(positional)], last, since, json: Boolean(args.json) };
    if (!args.follow) return showLogs(query);
    const { runningClient } = await import("../connect.ts"); // only following needs the client: ≈ 2 ms for the rest
    const client = await runningClient();
    try {
      const events = args.all ? client.watchEvents() : null;
      const names = query.target === "all" ? (await client.listServices()).map((s) => s.name) : query.target;
      const window = windowFor(query, names);
      const printer = new LogPrinter(query.json, names);
      const follow = new Follow(client, printer, Boolean(args.all));
      const backlogs = await follow.open(names, window);
      for (const line of mergeByTime(backlogs)) printer.print(line);
      follow.goLive(names);
      if (events) void follow.watchNew(events);
      if (args.all && names.length === 0) err("no services yet: waiting for one to start (Ctrl-C to stop)");
      const message = await follow.done;
      if (message) err(message);
    } finally {
      client.close();
    }
  },
});
