// The body of `adi daemon logs` without -f: logs.ts declares the command (and
// follows with -f); the fast path (../fast-path.ts) runs the plain forms here
// without citty. On Linux the requests go over the blocking socket
// (client/blocking-socket.ts); a daemon that is not there to answer is left
// to DaemonClient, which starts one (quick-query.ts readOverBlockingSocket).
import { unexpected } from "../../client/connection.ts";
import type { LogLine } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { out } from "../output.ts";
import { MAX_LOG_LINES } from "../whole-number.ts";
import { LogPrinter, mergeByTime } from "./log-format.ts";
import { readOverBlockingSocket } from "./quick-query.ts";

/** Ask for the whole ring (the daemon caps the answer at its ring and 8 MiB). */
export const EVERYTHING = MAX_LOG_LINES;

export interface Window {
  /** Lines to ask the daemon for. */
  request: number;
  /** Keep lines at or after this time (ms since the epoch). */
  since: number | null;
  /** Then keep only the newest this many (null: all). */
  last: number | null;
}

/** The window of `q` (its `-n` and `--since`) over `names`: by default 100 lines for one service, 20 each for several or --all. */
export function windowFor(q: LogsQuery, names: string[]): Window {
  const last = q.last ?? (q.since !== null ? null : q.target === "all" || names.length > 1 ? 20 : 100);
  return { request: q.since !== null ? EVERYTHING : last!, since: q.since, last };
}

export function cut(lines: LogLine[], w: Window): LogLine[] {
  let kept = lines;
  if (w.since !== null) {
    kept = [];
    for (const line of lines) if (line.timeUnixMs >= w.since) kept.push(line);
  }
  return w.last === null ? kept : kept.slice(Math.max(0, kept.length - w.last));
}

export interface LogsQuery {
  /** Service names (no repeats), or every service. */
  target: string[] | "all";
  last: number | null;
  since: number | null;
  json: boolean;
}

interface Tails {
  names: string[];
  window: Window;
  tails: LogLine[][];
}

const logsRequest = (name: string, w: Window) => ({ case: "serviceLogs" as const, value: { name, lines: w.request, follow: false } });

/** The tails over the blocking socket; undefined when DaemonClient must ask (readOverBlockingSocket). */
function tailsOverBlockingSocket(q: LogsQuery): Tails | undefined {
  let names = q.target;
  if (names === "all") {
    const answers = readOverBlockingSocket([{ case: "listServices", value: {} }]);
    if (!answers) return undefined;
    if (answers[0]!.case !== "services") throw unexpected(answers[0]!, "services");
    names = [];
    for (const service of answers[0]!.value.list) names.push(service.name);
  }
  const window = windowFor(q, names);
  if (names.length === 0) return { names, window, tails: [] };
  const requests = [];
  for (const name of names) requests.push(logsRequest(name, window));
  const answers = readOverBlockingSocket(requests);
  if (!answers) return undefined;
  const tails: LogLine[][] = [];
  for (const kind of answers) {
    if (kind.case !== "logs") throw unexpected(kind, "logs");
    tails.push(kind.value.lines);
  }
  return { names, window, tails };
}

async function tailsFromClient(q: LogsQuery): Promise<Tails> {
  const { runningClient } = await import("../connect.ts");
  const client = await runningClient();
  try {
    const names = q.target === "all" ? (await client.listServices()).map((s) => s.name) : q.target;
    const window = windowFor(q, names);
    const tails = await Promise.all(names.map((name) => client.logs(name, { lines: window.request })));
    return { names, window, tails };
  } finally {
    client.close();
  }
}

/** Printed lines are written in blocks of about this many characters, not one write(2) per line. */
const WRITE_BLOCK = 64 * 1024;

/** `adi daemon logs NAME…|--all [-n N] [--since T] [--json]`: the recent lines of each, merged by time. */
export async function showLogs(q: LogsQuery): Promise<void> {
  const { names, window, tails } = tailsOverBlockingSocket(q) ?? (await tailsFromClient(q));
  let block: string[] = [];
  let size = 0;
  const flush = () => {
    if (block.length > 0) out(block.join(""));
    block = [];
    size = 0;
  };
  // --json: one document (DESIGN §5), an array with an object a line; `-f --json` is a stream, an object a line.
  // Each object is held until the next shows whether a comma follows it.
  let held: string | null = null;
  const printer = new LogPrinter(q.json, names, (line) => {
    if (!q.json) block.push(line, "\n");
    else {
      block.push(held === null ? "[" : `${held},\n`);
      held = line;
    }
    size += line.length + 2;
    if (size >= WRITE_BLOCK) flush();
  });
  const cuts: LogLine[][] = [];
  for (const tail of tails) cuts.push(cut(tail, window));
  for (const line of mergeByTime(cuts)) printer.print(line);
  if (q.json) block.push(held === null ? "[]\n" : `${held}]\n`);
  flush();
}
