import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** Open for append, 0600, refusing to follow a symlink planted at the path. */
export function openAppendNoFollow(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
}

/**
 * write(2) until every byte is out: a short write (a disk filling up) goes on
 * from where it stopped, an error throws. Returns the bytes written.
 */
export function writeAll(fd: number, bytes: Uint8Array): number {
  let offset = 0;
  while (offset < bytes.length) {
    const n = writeSync(fd, bytes, offset);
    if (n <= 0) throw new Error("write made no progress");
    offset += n;
  }
  return offset;
}

/** A text file's contents, or null when it cannot be read (missing, not ours). */
export function readTextOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/**
 * Replace `path` atomically: a fresh 0600 file at `tmp` (never through a symlink)
 * renamed over it only once all of it is written, so a full disk never
 * leaves a truncated file where a good one was. A `tmp` left by a crash is
 * removed first. `durable`: the file is flushed to disk before the rename,
 * and the rename after it, so after a power loss the path holds the old
 * bytes or the new ones, never an empty file (xfs may keep the rename but
 * not the data of a file that was never synced; ext4's default replaces by
 * rename safely). It costs ≈ 0.4 ms a write here, in the daemon's one thread.
 */
export function replaceFile(path: string, tmp: string, bytes: Uint8Array, opts: { durable?: boolean } = {}): void {
  try {
    unlinkSync(tmp);
  } catch {}
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeAll(fd, bytes);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  try {
    if (opts.durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (opts.durable) syncDirectory(dirname(path));
}

/** fsync a directory (its entries: a rename in it); where that cannot be done (not Linux, a filesystem that refuses), the rename stands unsynced. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
  } finally {
    closeSync(fd);
  }
}
