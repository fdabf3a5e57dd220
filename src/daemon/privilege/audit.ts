import { closeSync, writeSync } from "node:fs";
import { openAppendNoFollow } from "../logger.ts";

/** The caller's free-text reason is capped at this many UTF-8 bytes in the log. */
export const MAX_REASON_BYTES = 256;
/**
 * What a record keeps of the request's argv (the command counts as one): a
 * denied request may carry ~1 MiB of arguments, and any accepted caller can
 * send one after another. Generous for any real privileged command line.
 */
export const MAX_AUDIT_ARGS = 32;
export const MAX_AUDIT_ARGV_BYTES = 4096;

export interface AuditRecord {
  plugin: string;
  service: string;
  peer_uid: number;
  peer_pid: number;
  argv: string[];
  argv_truncated: boolean;
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The longest prefix of `bytes` of at most `max` bytes that ends between characters. */
function utf8Prefix(bytes: Uint8Array, max: number): string {
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}

/** Cut to at most `max` UTF-8 bytes without splitting a character. */
export function capUtf8(text: string, max: number): { text: string; truncated: boolean } {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return { text, truncated: false };
  return { text: utf8Prefix(bytes, max), truncated: true };
}

/**
 * The first `maxArgs` arguments, in order, up to `maxBytes` UTF-8 bytes in
 * all (before JSON escaping). The argument that crosses the byte limit is cut
 * between characters and ends the list (dropped if nothing of it fits).
 */
export function capArgv(
  argv: readonly string[],
  maxArgs = MAX_AUDIT_ARGS,
  maxBytes = MAX_AUDIT_ARGV_BYTES,
): { argv: string[]; truncated: boolean } {
  const kept: string[] = [];
  let left = maxBytes;
  for (const arg of argv) {
    if (kept.length === maxArgs) return { argv: kept, truncated: true };
    const bytes = encoder.encode(arg);
    if (bytes.length > left) {
      const cut = utf8Prefix(bytes, left);
      if (cut !== "") kept.push(cut);
      return { argv: kept, truncated: true };
    }
    kept.push(arg);
    left -= bytes.length;
  }
  return { argv: kept, truncated: false };
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
