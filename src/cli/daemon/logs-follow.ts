import type { DaemonClient } from "../../client/daemon-client.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { EventKind, type LogLine, type ServiceEvent } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { runningClient } from "../connect.ts";
import { err } from "../output.ts";
import { LogPrinter, mergeByTime, overlap } from "./log-format.ts";
import { cut, EVERYTHING, windowFor, type LogsQuery, type Window } from "./logs-view.ts";

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
    const asked: Promise<LogLine[]>[] = [];
    for (const name of names) asked.push(this.client.logs(name, { lines: window.request }));
    const tails = await Promise.all(asked);
    const backlogs: LogLine[][] = [];
    for (let i = 0; i < names.length; i++) {
      const tail = tails[i]!;
      const entry = this.followed.get(names[i]!);
      if (entry?.buffer) entry.buffer.splice(0, overlap(tail, entry.buffer));
      backlogs.push(cut(tail, window));
    }
    return backlogs;
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

/** `adi daemon logs … -f`: the recent lines, then new ones until Ctrl-C or the daemon stops (the citty command and the fast path call it). */
export async function followLogs(query: LogsQuery): Promise<void> {
  const all = query.target === "all";
  const client = await runningClient();
  try {
    const events = all ? client.watchEvents() : null;
    let names = query.target;
    if (names === "all") {
      names = [];
      for (const service of await client.listServices()) names.push(service.name);
    }
    const window = windowFor(query, names);
    const printer = new LogPrinter(query.json, names);
    const follow = new Follow(client, printer, all);
    const backlogs = await follow.open(names, window);
    for (const line of mergeByTime(backlogs)) printer.print(line);
    follow.goLive(names);
    if (events) void follow.watchNew(events);
    if (all && names.length === 0) err("no services yet: waiting for one to start (Ctrl-C to stop)");
    const message = await follow.done;
    if (message) err(message);
  } finally {
    client.close();
  }
}
