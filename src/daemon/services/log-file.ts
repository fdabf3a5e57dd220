import { closeSync, constants, fstatSync, openSync, renameSync } from "node:fs";
import { openAppendNoFollow, writeAll } from "../../util/files.ts";

export interface RotationOptions {
  /** Rotate when the current file would grow past this many bytes. */
  maxBytes: number;
  /** Files kept in all: name.log plus name.log.1 … name.log.(files-1). */
  files: number;
}

export const DEFAULT_ROTATION: RotationOptions = { maxBytes: 10 * 1024 * 1024, files: 3 };

/** How long to wait before trying a failing log file again. */
const RETRY_MS = 5_000;

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
  private failing = false;

  constructor(
    readonly path: string,
    private readonly rotation: RotationOptions,
    private readonly onProblem: (err: Error | null) => void,
  ) {}

  write(bytes: Uint8Array): void {
    if (this.fd === null && !this.open()) return;
    try {
      if (this.size > 0 && this.size + bytes.length > this.rotation.maxBytes) this.rotate();
      // Counted before the write: if it fails part way, the reopen reads the size from the file.
      this.size += bytes.length;
      writeAll(this.fd!, bytes);
      if (this.failing) {
        this.failing = false;
        this.onProblem(null);
      }
    } catch (err) {
      this.fail(err);
    }
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

  private open(): boolean {
    if (performance.now() < this.retryAt) return false;
    try {
      this.fd = openAppendNoFollow(this.path);
      this.size = fstatSync(this.fd).size;
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
