import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from "node:fs";

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

/**
 * Replace `path` atomically: a fresh file at `tmp` (never through a symlink)
 * renamed over it only once all of it is written, so a full disk never
 * leaves a truncated file where a good one was. A `tmp` left by a crash is
 * removed first.
 */
export function replaceFile(path: string, tmp: string, bytes: Uint8Array, mode = 0o600): void {
  try {
    unlinkSync(tmp);
  } catch {}
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeAll(fd, bytes);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
