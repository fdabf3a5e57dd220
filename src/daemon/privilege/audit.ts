import { RotatingLogFile, type RotationOptions } from "../services/log-file.ts";

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
  /** Denials of this caller's that got no line of their own, this one the last (AUDIT_DENIAL_LIMIT). */
  suppressed?: number;
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
  /** False when a denial was only counted (the caller's denials are over their rate); the daemon log then skips it too. */
  write(record: AuditRecord): boolean;
  /** Reopen the file at its path (SIGHUP, after logrotate moved it). */
  reopen(): void;
  /** Write every count still waiting for its second (shutdown). */
  flush(): void;
}

/**
 * 16 MiB × 4 files. Without a bound a plugin that sends denied requests in a
 * loop filled the disk (1.6 GB in 5 s); rotation alone would let it push the
 * records of what it did run out of the files, hence the denial limit below.
 */
export const AUDIT_ROTATION: RotationOptions = { maxBytes: 16 * 1024 * 1024, files: 4 };

/**
 * Denials written per caller (a plugin, or a uid for callers of no plugin):
 * a burst of 100, then 10 a second, as journald limits a unit's messages.
 * What is over is counted; the next denial written for that caller, or one
 * written a second after the first left out, carries `suppressed: N`, the
 * denials since the previous line that got no line of their own (that line's
 * own request is the last of them). Allowed runs are always written: each is a
 * command that ran.
 */
export const AUDIT_DENIAL_LIMIT = { burst: 100, perSecond: 10 };

/** One per caller key: a handful (plugins, and the uids allowed to connect), kept for the daemon's life. */
interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  last: AuditRecord | null;
  timer: Timer | null;
}

/** Appends to the audit log (0600, O_APPEND, never through a symlink, rotated); failures go to `onProblem`. */
export function createAuditLog(
  path: string,
  onProblem: (err: Error | null) => void,
  rotation = AUDIT_ROTATION,
  limit = AUDIT_DENIAL_LIMIT,
  now: () => number = () => performance.now(),
): AuditLog {
  const file = new RotatingLogFile(path, rotation, onProblem);
  const buckets = new Map<string, Bucket>();
  const append = (record: AuditRecord) => file.write(Buffer.from(auditLine(record)));
  const flush = (bucket: Bucket) => {
    if (bucket.timer) clearTimeout(bucket.timer);
    bucket.timer = null;
    if (bucket.suppressed > 0 && bucket.last) append({ ...bucket.last, suppressed: bucket.suppressed });
    bucket.suppressed = 0;
    bucket.last = null;
  };
  return {
    write(record) {
      if (record.decision !== "denied") {
        append(record);
        return true;
      }
      const key = record.plugin === "" ? `uid:${record.peer_uid}` : `plugin:${record.plugin}`;
      const t = now();
      let bucket = buckets.get(key);
      if (!bucket) buckets.set(key, (bucket = { tokens: limit.burst, at: t, suppressed: 0, last: null, timer: null }));
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((t - bucket.at) / 1000) * limit.perSecond);
      bucket.at = t;
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        if (bucket.suppressed > 0) {
          // This line stands for the counted ones too.
          bucket.suppressed += 1;
          bucket.last = record;
          flush(bucket);
        } else append(record);
        return true;
      }
      bucket.suppressed += 1;
      bucket.last = record;
      if (!bucket.timer) {
        const held = bucket;
        held.timer = setTimeout(() => flush(held), 1000);
        held.timer.unref?.();
      }
      return false;
    },
    reopen: () => file.reopen(),
    flush() {
      for (const bucket of buckets.values()) flush(bucket);
    },
  };
}
