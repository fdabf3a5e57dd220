import { LogStream, type LogLine } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { out, paint, serviceColor, spaces, type Color } from "../output.ts";

export function streamName(stream: LogStream): string {
  return stream === LogStream.STDERR ? "err" : stream === LogStream.SYSTEM ? "adi" : "out";
}

const streamColor: Record<string, Color> = { err: "red", adi: "cyan", out: "gray" };

/** The pid in the daemon's own line for each new generation of a service (service.ts: `started pid N …`), or null. */
function startedPid(text: string): string | null {
  const prefix = "started pid ";
  if (!text.startsWith(prefix)) return null;
  const end = digitsEnd(text, prefix.length);
  return end > prefix.length ? text.slice(prefix.length, end) : null;
}

/** The last time isoTime formatted: the lines of one pipe read share their time. */
let lastTime = { ms: NaN, iso: "" };

/** `ms` since the epoch as an ISO 8601 string (one Date for a run of lines with the same time). */
function isoTime(ms: number): string {
  if (ms !== lastTime.ms) lastTime = { ms, iso: new Date(ms).toISOString() };
  return lastTime.iso;
}

/** The `--json` line of a log line. */
export function logJson(line: LogLine) {
  return { time: isoTime(line.timeUnixMs), service: line.service, stream: streamName(line.stream), text: line.text };
}

/**
 * Prints log lines of one or more services: `<time> <service> <stream> <text>`,
 * the name padded to the widest and coloured per service (stable across runs),
 * and a separator before a service's new generation (a restart). `--json`
 * prints one object per line and no separators (the `adi` line is there).
 */
export class LogPrinter {
  private width = 0;
  private readonly seen = new Set<string>();
  /**
   * The last line's `<time> <service> <stream> ` and what it was made of: a
   * pipe read's lines share all three, and each line would otherwise format
   * them anew (formatting `logs NAME`'s 100 lines took 0.45 → 0.22 ms,
   * with the one-list merge below: bench/README.md).
   */
  private last: { time: number; service: string; stream: LogStream; width: number; prefix: string } = { time: NaN, service: "", stream: LogStream.UNSPECIFIED, width: 0, prefix: "" };

  /** `emit` gets each printed line without its newline (default: written at once, as a follow needs). */
  constructor(
    private readonly json: boolean,
    names: string[],
    private readonly emit: (line: string) => void = out,
  ) {
    for (const name of names) this.widen(name);
  }

  widen(name: string): void {
    this.width = Math.max(this.width, name.length);
  }

  print(line: LogLine): void {
    if (this.json) {
      this.emit(JSON.stringify(logJson(line)));
      return;
    }
    const started = line.stream === LogStream.SYSTEM ? startedPid(line.text) : null;
    if (started !== null && this.seen.has(line.service)) this.separator(line.service, `restarted (pid ${started})`);
    this.seen.add(line.service);
    this.emit(this.prefix(line) + line.text);
  }

  private prefix({ timeUnixMs: time, service, stream }: LogLine): string {
    const last = this.last;
    if (time === last.time && service === last.service && stream === last.stream && this.width === last.width) return last.prefix;
    const tag = streamName(stream);
    const name = paint(1, serviceColor(service), service + spaces(this.width - service.length));
    const prefix = `${paint(1, "gray", isoTime(time))} ${name} ${paint(1, streamColor[tag]!, tag)} `;
    this.last = { time, service, stream, width: this.width, prefix };
    return prefix;
  }

  /** `──── web restarted (pid 42) ────` (human output only). */
  separator(service: string, what: string): void {
    if (this.json) return;
    this.emit(paint(1, serviceColor(service), `──── ${service} ${what} ────`));
  }
}

/**
 * Stable merge of several services' lines by time (each list in the order the
 * daemon read it). A single list is returned as it is: the order it was read
 * in, even where the wall clock stepped back (docs/cli.md). Array flat and
 * sort are native: no first-use compile (output.ts).
 */
export function mergeByTime(lists: LogLine[][]): LogLine[] {
  if (lists.length === 1) return lists[0]!;
  return lists.flat().sort((a, b) => a.timeUnixMs - b.timeUnixMs);
}

/** Milliseconds per unit of a `--since` duration. */
function unitMs(unit: string): number | undefined {
  switch (unit) {
    case "ms":
      return 1;
    case "s":
      return 1_000;
    case "m":
      return 60_000;
    case "h":
      return 3_600_000;
    case "d":
      return 86_400_000;
    default:
      return undefined;
  }
}

/** Where the run of ASCII digits that starts at `from` ends (`from` when there is none). */
function digitsEnd(text: string, from: number): number {
  let i = from;
  for (let c = text.charCodeAt(i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i));
  return i;
}

/**
 * `--since`: a duration back from now (90s, 10m, 1.5h, 2d, 250ms) or an ISO
 * time (one that starts YYYY-MM-DD); milliseconds since the epoch. Scanned,
 * not matched with a RegExp: the fast path runs it (output.ts).
 */
export function parseSince(value: string, now = Date.now()): number | null {
  const text = value.trim();
  const whole = digitsEnd(text, 0);
  if (whole > 0) {
    let end = whole;
    if (text.charCodeAt(end) === 0x2e && digitsEnd(text, end + 1) > end + 1) end = digitsEnd(text, end + 1); // "." and digits
    const unit = unitMs(text.slice(end));
    if (unit !== undefined) return now - Number(text.slice(0, end)) * unit;
  }
  const isoDate = whole === 4 && text[4] === "-" && digitsEnd(text, 5) === 7 && text[7] === "-" && digitsEnd(text, 8) >= 10;
  if (!isoDate) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}
