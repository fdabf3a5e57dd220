import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { LogStream } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import type { LineBatch } from "../../protocol/log-frames.ts";
import { LineAssembler, lineTexts, linesOf, type Lines } from "./line-bytes.ts";
import { RotatingLogFile, type RotationOptions } from "./log-file.ts";

/** One log line as the wire's LogLine init (plain object: no create() per line). */
export interface LogEntry {
  service: string;
  stream: LogStream;
  timeUnixMs: number;
  text: string;
}

/** The lines of one pipe read (or one daemon message): one stream, one time. */
export type LogBatch = LineBatch;

export const DEFAULT_RING_LINES = 1000;

export type LogListener = (batch: LogBatch) => void;

const TAGS: Record<LogStream, string> = {
  [LogStream.UNSPECIFIED]: "???",
  [LogStream.STDOUT]: "out",
  [LogStream.STDERR]: "err",
  [LogStream.SYSTEM]: "adi",
};

/** The file's line format: `<ISO time> <out|err|adi> <text>`. */
const FILE_LINE = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (out|err|adi) ([^\n]*)$/; // the text may hold a CR (progress output)
const STREAM_OF_TAG: Record<string, LogStream> = { out: LogStream.STDOUT, err: LogStream.STDERR, adi: LogStream.SYSTEM };
/** After every this many bytes a log has read (counted over the stream's life), it lets the event loop serve requests. */
const YIELD_EVERY_BYTES = 256 * 1024;
/** How much of the file's end is read at start to fill the ring. */
const SEED_BYTES = 256 * 1024;

const encoder = new TextEncoder();
/**
 * Where the file's lines are assembled: one buffer reused by every write
 * (they are synchronous), so a busy log allocates nothing per read. A batch
 * that does not fit goes out in several writes; the buffer never grows (a
 * line with its prefix and "\n" is at most 16 KiB + 30 bytes).
 */
const FILE_SCRATCH = new Uint8Array(64 * 1024);

/** Append `lines` to `file` in its format, each behind `prefix`. */
function writeWithPrefix(file: RotatingLogFile, prefix: Uint8Array, lines: Lines): void {
  const { bytes, ends } = lines;
  const out = FILE_SCRATCH;
  let o = 0;
  let start = 0;
  for (let l = 0; l < ends.length; l++) {
    const stop = ends[l]! + 1; // with its "\n"
    if (o + prefix.length + stop - start > out.length) {
      file.write(out.subarray(0, o));
      o = 0;
    }
    for (let k = 0; k < prefix.length; k++) out[o++] = prefix[k]!;
    if (stop - start > 64) {
      out.set(bytes.subarray(start, stop), o);
      o += stop - start;
    } else {
      for (let i = start; i < stop; i++) out[o++] = bytes[i]!;
    }
    start = stop;
  }
  file.write(out.subarray(0, o));
}

/**
 * A service's log: every pipe read becomes one batch of lines that goes to a
 * bounded ring (for `logs -n`), the rotated file and the current followers,
 * synchronously and in order. Lines stay bytes until someone asks for text.
 * The pipe readers never wait on anyone: a follower that cannot keep up is
 * the follower's problem (see methods/services.ts), never the service's.
 */
export class ServiceLog {
  /** Newest last; `ringHead` is the oldest kept. Whole batches are dropped once the rest still hold `ringLines`. */
  private ring: LogBatch[] = [];
  private ringHead = 0;
  private ringCount = 0;
  private readonly listeners = new Map<LogListener, (reason: string) => void>();
  private readonly file: RotatingLogFile;

  constructor(
    readonly service: string,
    filePath: string,
    rotation: RotationOptions,
    onProblem: (message: string | null) => void,
    private readonly ringLines = DEFAULT_RING_LINES,
  ) {
    this.file = new RotatingLogFile(filePath, rotation, (err) =>
      onProblem(err && `service log ${filePath} is not writable (${err.message}); lines are kept in memory only`),
    );
    this.seed(filePath);
  }

  /** Fill the ring from the end of the file, so `logs -n` shows history after a daemon restart. */
  private seed(filePath: string): void {
    let text: string;
    try {
      const fd = openSync(filePath, "r");
      try {
        const size = fstatSync(fd).size;
        const length = Math.min(size, SEED_BYTES);
        const buf = Buffer.alloc(length);
        readSync(fd, buf, 0, length, size - length);
        text = buf.toString("utf8");
        if (length < size) text = text.slice(text.indexOf("\n") + 1); // drop the cut first line
      } finally {
        closeSync(fd);
      }
    } catch {
      return; // no file yet
    }
    // Consecutive lines of one stream and time were one batch: keep them together.
    let group: string[] = [];
    let stream: LogStream = LogStream.UNSPECIFIED;
    let time = NaN;
    const flush = () => {
      // Each line with its own "\n", so empty lines (and a group of one) survive.
      if (group.length > 0) this.keep({ service: this.service, stream, timeUnixMs: time, ...linesOf(`${group.join("\n")}\n`) });
      group = [];
    };
    for (const line of text.split("\n")) {
      const m = FILE_LINE.exec(line);
      if (!m) continue;
      const lineStream = STREAM_OF_TAG[m[2]!]!;
      const lineTime = Date.parse(m[1]!);
      if (lineStream !== stream || lineTime !== time) {
        flush();
        stream = lineStream;
        time = lineTime;
      }
      group.push(m[3]!);
    }
    flush();
  }

  /** Drain a child's pipe to the end; resolves when the pipe closes. */
  async drain(stream: ReadableStream<Uint8Array>, kind: typeof LogStream.STDOUT | typeof LogStream.STDERR): Promise<void> {
    const assembler = new LineAssembler();
    const reader = stream.getReader();
    let sinceYield = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        const lines = assembler.push(done ? new Uint8Array(0) : value, done);
        if (lines) this.append(kind, lines);
        if (done) return;
        // While the pipe always has data (a flood), each read resolves at once and this loop
        // would never let the event loop run: requests waited a median of 30–300 ms behind `yes`,
        // some over a second. Every YIELD_EVERY_BYTES it steps aside (one setImmediate: harmless
        // for a service that writes in bursts).
        sinceYield += value.length;
        if (sinceYield >= YIELD_EVERY_BYTES) {
          sinceYield = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    } catch {
      // The pipe broke: nothing more to read.
    } finally {
      reader.releaseLock();
    }
  }

  /** A line written by the daemon itself (started, exited, …). */
  system(text: string): void {
    const lines = linesOf(text);
    if (lines.ends.length > 0) this.append(LogStream.SYSTEM, lines);
  }

  private append(stream: LogStream, lines: Lines): void {
    const batch: LogBatch = { service: this.service, stream, timeUnixMs: Date.now(), bytes: lines.bytes, ends: lines.ends };
    this.keep(batch);
    const prefix = encoder.encode(`${new Date(batch.timeUnixMs).toISOString()} ${TAGS[stream]} `);
    writeWithPrefix(this.file, prefix, batch);
    for (const listener of this.listeners.keys()) listener(batch);
  }

  private keep(batch: LogBatch): void {
    this.ring.push(batch);
    this.ringCount += batch.ends.length;
    while (this.ringCount - this.ring[this.ringHead]!.ends.length >= this.ringLines) {
      this.ringCount -= this.ring[this.ringHead]!.ends.length;
      this.ringHead++;
    }
    if (this.ringHead > 64 && this.ringHead * 2 > this.ring.length) {
      this.ring = this.ring.slice(this.ringHead);
      this.ringHead = 0;
    }
  }

  /** The last `n` lines (at most the ring's size), oldest first. */
  tail(n: number): LogEntry[] {
    let want = Math.min(n, this.ringLines);
    const picked: LogBatch[] = [];
    for (let i = this.ring.length - 1; i >= this.ringHead && want > 0; i--) {
      picked.push(this.ring[i]!);
      want -= this.ring[i]!.ends.length;
    }
    const out: LogEntry[] = [];
    for (let i = picked.length - 1; i >= 0; i--) {
      const batch = picked[i]!;
      const texts = lineTexts(batch);
      // The oldest batch may hold more than was asked for: its newest lines only.
      const from = i === picked.length - 1 && want < 0 ? -want : 0;
      for (let k = from; k < texts.length; k++) out.push({ service: batch.service, stream: batch.stream, timeUnixMs: batch.timeUnixMs, text: texts[k]! });
    }
    return out;
  }

  /**
   * Receive every new batch of lines until the returned function is called,
   * or until the log is closed (the service was removed): then `onEnd` runs.
   */
  follow(listener: LogListener, onEnd: (reason: string) => void): () => void {
    this.listeners.set(listener, onEnd);
    return () => this.listeners.delete(listener);
  }

  get followers(): number {
    return this.listeners.size;
  }

  /** Reopen the file at its path on the next write (SIGHUP after logrotate). */
  reopenFile(): void {
    this.file.reopen();
  }

  /** The service is gone: end every follower and close the file. */
  close(reason: string): void {
    const ends = [...this.listeners.values()];
    this.listeners.clear();
    for (const end of ends) end(reason);
    this.file.close();
  }
}
