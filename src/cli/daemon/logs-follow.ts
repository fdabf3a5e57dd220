import type { DaemonClient, FollowedLines } from "../../client/daemon-client.ts";
import { MAX_STREAMS_PER_CONNECTION } from "../../protocol/limits.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { EventKind, type LogLine, type ServiceEvent } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { cliClient, runningClient } from "../connect.ts";
import { err } from "../output.ts";
import { LogPrinter, mergeByTime } from "./log-format.ts";
import { cut, EVERYTHING, windowFor, type LogsQuery, type Window } from "./logs-view.ts";

const daemonGone = (e: unknown) => e instanceof AdiError && e.code === ErrorCode.UNAVAILABLE;

/**
 * Following several services on one connection. Each follow stream opens
 * before its backlog is read (so no line falls between the two); the lines
 * both carry are dropped from the stream: exactly those the stream had
 * received when the backlog's answer arrived, since the daemon answers on
 * one connection in order (matching lines by time and text could not tell
 * identical lines of one millisecond apart). Backlogs of all services are
 * printed merged by time, then live lines as they come.
 */
interface Followed {
  /** Lines held until the backlogs are printed; null once live. */
  buffer: LogLine[] | null;
  /** Stream lines still to drop because the backlog holds them. */
  skip: number;
  lines: FollowedLines;
  /** The connection the stream is on: its backlog is asked for on the same one. */
  client: DaemonClient;
}

/**
 * Follows per connection: the daemon holds at most MAX_STREAMS_PER_CONNECTION
 * streams on one, and the first also carries `--all`'s event watch. More
 * services than that (`--all` with hundreds) are followed over more connections.
 */
const FOLLOWS_PER_CONNECTION = MAX_STREAMS_PER_CONNECTION - 1;

/** Exported for its tests (test/cli/follow-join.test.ts). */
export class Follow {
  private readonly followed = new Map<string, Followed>();
  private finish!: (message?: string) => void;
  private fail!: (e: unknown) => void;
  readonly done = new Promise<string | undefined>((resolve, reject) => {
    this.finish = resolve;
    this.fail = reject;
  });

  /** Connections in use, each with the follows it carries; the first is the caller's. */
  private readonly connections: { client: DaemonClient; follows: number }[];

  constructor(
    client: DaemonClient,
    private readonly printer: LogPrinter,
    private readonly all: boolean,
    private readonly another: () => DaemonClient = () => client,
  ) {
    this.connections = [{ client, follows: 0 }];
    this.done.catch(() => {}); // awaited by run() once the backlog is out; an early failure is thrown there
  }

  /** Close the connections this follow opened beside the caller's. */
  close(): void {
    for (let i = 1; i < this.connections.length; i++) this.connections[i]!.client.close();
  }

  private connectionForFollow(): DaemonClient {
    let last = this.connections[this.connections.length - 1]!;
    if (last.follows >= FOLLOWS_PER_CONNECTION) this.connections.push((last = { client: this.another(), follows: 0 }));
    last.follows++;
    return last.client;
  }

  /** Open follow streams for these services; resolves with their backlogs (not yet printed). */
  async open(names: string[], window: Window): Promise<LogLine[][]> {
    const entries: Followed[] = [];
    for (const name of names) entries.push(this.pump(name));
    const asked: Promise<LogLine[]>[] = [];
    for (let i = 0; i < names.length; i++) {
      const entry = entries[i]!;
      // The first `received` lines of the stream are in the backlog: those already taken are dropped now, the rest as they are taken.
      const onAnswer = () => {
        const taken = entry.buffer?.splice(0, entry.lines.received).length ?? 0;
        entry.skip = entry.lines.received - taken;
      };
      asked.push(entry.client.logs(names[i]!, { lines: window.request, onAnswer }));
    }
    const tails = await Promise.all(asked);
    const backlogs: LogLine[][] = [];
    for (const tail of tails) backlogs.push(cut(tail, window));
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

  private pump(name: string): Followed {
    const client = this.connectionForFollow();
    // No client-side cap: printing blocks this process, so a slow terminal or pipe makes the daemon skip lines (with
    // its marker) and the counts the join relies on stay whole.
    const lines = client.logs(name, { lines: 0, follow: true, maxQueued: Infinity });
    const entry: Followed = { buffer: [], skip: 0, lines, client };
    this.followed.set(name, entry);
    void (async () => {
      try {
        for await (const line of lines) {
          if (entry.skip > 0) entry.skip--;
          else if (entry.buffer) entry.buffer.push(line);
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
    return entry;
  }
}

/** `adi daemon logs … -f`: the recent lines, then new ones until Ctrl-C or the daemon stops (the citty command and the fast path call it). */
export async function followLogs(query: LogsQuery): Promise<void> {
  const all = query.target === "all";
  const client = await runningClient();
  let follow: Follow | null = null;
  try {
    const events = all ? client.watchEvents() : null;
    let names = query.target;
    if (names === "all") {
      names = [];
      for (const service of await client.listServices()) names.push(service.name);
    }
    const window = windowFor(query, names);
    const printer = new LogPrinter(query.json, names);
    follow = new Follow(client, printer, all, () => cliClient());
    const backlogs = await follow.open(names, window);
    for (const line of mergeByTime(backlogs)) printer.print(line);
    follow.goLive(names);
    if (events) void follow.watchNew(events);
    if (all && names.length === 0) err("no services yet: waiting for one to start (Ctrl-C to stop)");
    const message = await follow.done;
    if (message) err(message);
  } finally {
    follow?.close();
    client.close();
  }
}
