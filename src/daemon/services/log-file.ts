import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, renameSync } from "node:fs";
import { openAppendNoFollow, writeAll } from "../../util/files.ts";

export interface RotationOptions {
  /** Rotate when the current file would grow past this many bytes. */
  maxBytes: number;
  /** Files kept in all: name.log plus name.log.1 … name.log.(files-1). */
  files: number;
}

export const DEFAULT_ROTATION: RotationOptions = { maxBytes: 10 * 1024 * 1024, files: 3 };

const NEWLINE = new Uint8Array([10]);

/** The byte at `size - 1` of the file at `path`, or -1 if it cannot be read. */
function lastByte(path: string, size: number): number {
  const one = new Uint8Array(1);
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    return readSync(fd, one, 0, 1, size - 1) === 1 ? one[0]! : -1;
  } catch {
    return -1;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** How long to wait before trying a failing log file again. */
const RETRY_MS = 5_000;
/** How often a write checks that the open file is still the one at the path. */
const PATH_CHECK_MS = 5_000;

/**
 * An append-only, size-rotated log file: a service's log, and the daemon's
 * own. Writes are synchronous (a batch of lines per call, so the cost is one
 * syscall per pipe read). A failing disk never stops the writer: the error is
 * reported once through `onProblem`, lines are dropped from the file (a
 * service's stay in its ring and reach followers) and the file is retried
 * every few seconds; `onProblem(null)` says it works again.
 */
export class RotatingLogFile {
  private fd: number | null = null;
  private size = 0;
  private retryAt = 0;
  private checkAt = 0;
  private failing = false;

  constructor(
    readonly path: string,
    private readonly rotation: RotationOptions,
    private readonly onProblem: (err: Error | null) => void,
    private readonly pathCheckMs = PATH_CHECK_MS,
  ) {}

  /** Whole lines (each ending in "\n"); a file ends at a line's end, at most `maxBytes` unless one line alone is longer. */
  write(bytes: Uint8Array): void {
    if (this.fd !== null && performance.now() >= this.checkAt) this.followPath();
    if (this.fd === null && !this.open()) return;
    try {
      let rest = bytes;
      for (;;) {
        const room = this.rotation.maxBytes - this.size;
        if (rest.length <= room) {
          this.append(rest);
          break;
        }
        // The lines that fit end this file; the rest starts the next. A line longer than a whole file goes alone.
        let cut = room > 0 ? rest.lastIndexOf(10, room - 1) + 1 : 0;
        if (cut === 0 && this.size === 0) cut = rest.indexOf(10) + 1 || rest.length;
        if (cut > 0) this.append(rest.subarray(0, cut));
        rest = rest.subarray(cut);
        if (rest.length === 0) break;
        this.rotate();
      }
      if (this.failing) {
        this.failing = false;
        this.onProblem(null);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private append(bytes: Uint8Array): void {
    // Counted before the write: if it fails part way, the reopen reads the size from the file.
    this.size += bytes.length;
    writeAll(this.fd!, bytes);
  }

  /** logrotate moved the file (SIGHUP): the next write opens the path again, even while a failure is being retried. */
  reopen(): void {
    this.close();
    this.retryAt = 0;
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {}
      this.fd = null;
    }
  }

  /**
   * Every few seconds: is the open file still the one at the path? Deleted
   * (with its directory, or by logrotate without a SIGHUP) or replaced, the
   * lines would go to a file nobody can see, unsaid: the path is opened
   * again, and a failure to is reported like any other.
   */
  private followPath(): void {
    this.checkAt = performance.now() + this.pathCheckMs;
    let same = false;
    try {
      const open = fstatSync(this.fd!);
      const atPath = lstatSync(this.path);
      same = open.ino === atPath.ino && open.dev === atPath.dev;
    } catch {}
    if (!same) this.reopen();
  }

  private open(): boolean {
    if (performance.now() < this.retryAt) return false;
    try {
      this.fd = openAppendNoFollow(this.path);
      this.checkAt = performance.now() + this.pathCheckMs;
      this.size = fstatSync(this.fd).size;
      // A write cut short (a full disk, a crash) left half a line: end it, or the next line is glued onto it.
      if (this.size > 0 && lastByte(this.path, this.size) !== 10) this.append(NEWLINE);
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private rotate(): void {
    this.close();
    for (let i = this.rotation.files - 1; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
      try {
        renameSync(from, `${this.path}.${i}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    // files = 1: nothing is kept, the one file starts over.
    this.fd =
      this.rotation.files <= 1
        ? openSync(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600)
        : openAppendNoFollow(this.path);
    this.size = 0;
  }

  private fail(err: unknown): void {
    this.close();
    this.retryAt = performance.now() + RETRY_MS;
    if (!this.failing) {
      this.failing = true;
      this.onProblem(err as Error);
    }
  }
}
