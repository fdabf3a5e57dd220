import { RotatingLogFile, type RotationOptions } from "./services/log-file.ts";
import { writeAll } from "../util/files.ts";

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
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[minLevel]) return;
    const line = Buffer.from(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${formatFields(fields)}\n`);
    if (file) return file.write(line);
    try {
      writeAll(2, line);
    } catch {
      // A closed stderr must not take the daemon down with it.
    }
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
