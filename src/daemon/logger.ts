import { closeSync, constants, fstatSync, openSync, renameSync, writeSync } from "node:fs";

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

/** Open for append, 0600, refusing to follow a symlink planted at the path. */
export function openAppendNoFollow(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
}

/**
 * The daemon log's size rotation, as a service log's (log-file.ts): when a
 * line would take it past `maxBytes`, daemon.log becomes daemon.log.1 (and
 * .1 becomes .2 …), `files` in all. Without it the log grew without bound, and
 * with isolation on any local user could grow it: every refused connection
 * is a line.
 */
export const DAEMON_LOG_ROTATION = { maxBytes: 10 * 1024 * 1024, files: 3 };

/**
 * The daemon's own log: one line per event, written synchronously so a crash
 * never loses the line that explains it. `path` null = stderr (foreground).
 * If the file cannot be opened the logger falls back to stderr and says so
 * through `onError`, so the daemon keeps running.
 */
export function createLogger(
  path: string | null,
  minLevel: LogLevel = "info",
  onError: (err: Error) => void = () => {},
  rotation = DAEMON_LOG_ROTATION,
): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  let fd = 2;
  let size = 0;
  let writeFailed = false;
  const open = () => {
    if (path === null) return;
    try {
      const next = openAppendNoFollow(path);
      if (fd !== 2) closeSync(fd);
      fd = next;
      size = fstatSync(fd).size;
    } catch (err) {
      onError(err as Error);
    }
  };
  const rotate = () => {
    if (path === null) return;
    for (let i = rotation.files - 1; i >= 1; i--) {
      try {
        renameSync(i === 1 ? path : `${path}.${i - 1}`, `${path}.${i}`);
      } catch {}
    }
    open();
  };
  open();
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[minLevel]) return;
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${formatFields(fields)}\n`;
    try {
      if (fd !== 2 && size > 0 && size + line.length > rotation.maxBytes) rotate();
      size += writeSync(fd, line);
    } catch (err) {
      // A full or vanished disk must not take the daemon down with it; say so once (status warnings).
      if (!writeFailed) {
        writeFailed = true;
        onError(err as Error);
      }
    }
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    reopen: open,
    close: () => {
      if (fd !== 2) closeSync(fd);
      fd = 2;
    },
  };
}
