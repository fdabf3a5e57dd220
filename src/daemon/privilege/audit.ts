import { closeSync, writeSync } from "node:fs";
import { openAppendNoFollow } from "../logger.ts";

/** The caller's free-text reason is capped at this many UTF-8 bytes in the log. */
export const MAX_REASON_BYTES = 256;

export interface AuditRecord {
  plugin: string;
  service: string;
  peer_uid: number;
  peer_pid: number;
  argv: string[];
  matched_pattern: string | null;
  resolved_path: string | null;
  decision: "allowed" | "denied";
  deny_reason: string | null;
  reason: string;
  reason_truncated: boolean;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_ms: number | null;
  /** Set when an allowed command could not be started at all. */
  error?: string;
}

/** Cut to at most `max` UTF-8 bytes without splitting a character. */
export function capUtf8(text: string, max: number): { text: string; truncated: boolean } {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return { text, truncated: false };
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { text: new TextDecoder().decode(bytes.subarray(0, end)), truncated: true };
}

/**
 * One JSON object per line. JSON.stringify already escapes C0 controls and
 * lone surrogates; DEL, C1 controls and the Unicode line/paragraph separators
 * are escaped too, so no control character ever reaches the file raw.
 */
export function auditLine(record: AuditRecord, time = new Date()): string {
  const json = JSON.stringify({ time: time.toISOString(), ...record });
  return `${json.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n`;
}

export interface AuditLog {
  write(record: AuditRecord): void;
}

/** Appends to the audit log (0600, O_APPEND, never through a symlink); failures go to `onError`. */
export function createAuditLog(path: string, onError: (err: Error) => void): AuditLog {
  return {
    write(record) {
      const line = auditLine(record);
      let fd: number | undefined;
      try {
        fd = openAppendNoFollow(path);
        writeSync(fd, line);
      } catch (err) {
        onError(err as Error);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    },
  };
}
