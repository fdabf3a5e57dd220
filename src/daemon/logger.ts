import { RotatingLogFile, type RotationOptions } from "./services/log-file.ts";
import { writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Reopen the log file (SIGHUP, after logrotate moved it). */
  reopen(): void;
  close(): void;
}

function formatFields(fields?: Record<string, unknown>): string {
  if (!fields) return "";
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out += ` ${key}=${typeof value === "string" ? JSON.stringify(value) : String(value)}`;
  }
  return out;
}

/**
 * The daemon log's size rotation, as a service log's: when a line would take
 * it past `maxBytes`, daemon.log becomes daemon.log.1 (and .1 becomes .2 …),
 * `files` in all. Without it the log grew without bound, and with isolation
 * on any local user could grow it: every refused connection is a line.
 */
export const DAEMON_LOG_ROTATION: RotationOptions = { maxBytes: 10 * 1024 * 1024, files: 3 };

/**
 * The daemon's own log: one line per event, written synchronously so a crash
 * never loses the line that explains it. `path` null = stderr (foreground).
 * A file that cannot be written is reported through `onProblem` (null once it
 * works again) and retried, and the daemon keeps running.
 */
export function createLogger(
  path: string | null,
  minLevel: LogLevel = "info",
  onProblem: (err: Error | null) => void = () => {},
  rotation = DAEMON_LOG_ROTATION,
): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const file = path === null ? null : new RotatingLogFile(path, rotation, onProblem);
  const stderr = new StderrLines();
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[minLevel]) return;
    const line = Buffer.from(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${formatFields(fields)}\n`);
    if (file) file.write(line);
    else stderr.write(line);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    reopen: () => file?.reopen(),
    close: () => file?.close(),
  };
}

/**
 * Lines to stderr. When stderr is non-blocking (the foreground daemon's pipe
 * or socket: main.ts), a reader that stops reading (a paused pager, a stuck
 * journald) costs lines, never the daemon's progress: what does not fit is
 * counted and told on the next line that does, after ending a line cut short.
 * A closed stderr must not take the daemon down either.
 */
class StderrLines {
  private dropped = 0;
  private cut = false;

  write(line: Uint8Array): void {
    if (this.dropped > 0) {
      const note = `${this.cut ? "\n" : ""}… ${this.dropped} log lines dropped: stderr was not taking them\n`;
      this.cut = false;
      if (!this.put(Buffer.from(note))) return void this.dropped++;
      this.dropped = 0;
    }
    if (!this.put(line)) this.dropped++;
  }

  private put(bytes: Uint8Array): boolean {
    let offset = 0;
    try {
      while (offset < bytes.length) offset += writeSync(2, bytes, offset);
      return true;
    } catch {
      if (offset > 0) this.cut = true;
      return false;
    }
  }
}
