import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { LogStream } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { RotatingLogFile, type RotationOptions } from "./log-file.ts";

/** One log line as the wire's LogLine init (plain object: no create() per line). */
export interface LogEntry {
  service: string;
  stream: LogStream;
  timeUnixMs: number;
  text: string;
}

/** Longer lines are split into pieces of this many characters (never buffered without bound). */
export const MAX_LINE_CHARS = 16 * 1024;
export const DEFAULT_RING_LINES = 1000;

export type LogListener = (batch: LogEntry[]) => void;

const TAGS: Record<LogStream, string> = {
  [LogStream.UNSPECIFIED]: "???",
  [LogStream.STDOUT]: "out",
  [LogStream.STDERR]: "err",
  [LogStream.SYSTEM]: "adi",
};

/** The file's line format: `<ISO time> <out|err|adi> <text>`. */
const FILE_LINE = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (out|err|adi) (.*)$/;
const STREAM_OF_TAG: Record<string, LogStream> = { out: LogStream.STDOUT, err: LogStream.STDERR, adi: LogStream.SYSTEM };
/** How much of the file's end is read at start to fill the ring. */
const SEED_BYTES = 256 * 1024;

/** Splits a byte stream into lines: UTF-8 decoded across chunk borders, long lines cut. */
class LineSplitter {
  private readonly decoder = new TextDecoder();
  private partial = "";

  push(chunk: Uint8Array | null, out: string[]): void {
    const text = chunk === null ? this.partial + this.decoder.decode() : this.partial + this.decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 13) end--; // CRLF
      pushCut(text.slice(start, end), out);
      start = nl + 1;
    }
    let rest = text.slice(start);
    while (rest.length >= MAX_LINE_CHARS) {
      out.push(rest.slice(0, MAX_LINE_CHARS));
      rest = rest.slice(MAX_LINE_CHARS);
    }
    if (chunk === null) {
      if (rest.length > 0) out.push(rest);
      rest = "";
    }
    this.partial = rest;
  }
}

function pushCut(line: string, out: string[]): void {
  if (line.length <= MAX_LINE_CHARS) {
    out.push(line);
    return;
  }
  for (let i = 0; i < line.length; i += MAX_LINE_CHARS) out.push(line.slice(i, i + MAX_LINE_CHARS));
}

/**
 * A service's log: every line goes to a bounded ring (for `logs -n`), the
 * rotated file, and the current followers, synchronously and in order. The
 * pipe readers never wait on anyone: a follower that cannot keep up is the
 * follower's problem (see methods/services.ts), never the service's.
 */
export class ServiceLog {
  private readonly ring: (LogEntry | undefined)[];
  private ringNext = 0;
  private ringSize = 0;
  private readonly listeners = new Map<LogListener, (reason: string) => void>();
  private readonly file: RotatingLogFile;

  constructor(
    readonly service: string,
    filePath: string,
    rotation: RotationOptions,
    onProblem: (message: string | null) => void,
    ringLines = DEFAULT_RING_LINES,
  ) {
    this.ring = new Array(ringLines);
    this.file = new RotatingLogFile(filePath, rotation, onProblem);
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
    for (const line of text.split("\n")) {
      const m = FILE_LINE.exec(line);
      if (!m) continue;
      const entry: LogEntry = { service: this.service, stream: STREAM_OF_TAG[m[2]!]!, timeUnixMs: Date.parse(m[1]!), text: m[3]! };
      this.ring[this.ringNext] = entry;
      this.ringNext = (this.ringNext + 1) % this.ring.length;
      if (this.ringSize < this.ring.length) this.ringSize++;
    }
  }

  /** Drain a child's pipe to the end; resolves when the pipe closes. */
  async drain(stream: ReadableStream<Uint8Array>, kind: typeof LogStream.STDOUT | typeof LogStream.STDERR): Promise<void> {
    const splitter = new LineSplitter();
    const lines: string[] = [];
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        splitter.push(done ? null : value, lines);
        if (lines.length > 0) {
          this.append(kind, lines);
          lines.length = 0;
        }
        if (done) return;
      }
    } catch {
      // The pipe broke: nothing more to read.
    } finally {
      reader.releaseLock();
    }
  }

  /** A line written by the daemon itself (started, exited, …). */
  system(text: string): void {
    this.append(LogStream.SYSTEM, [text]);
  }

  private append(stream: LogStream, texts: string[]): void {
    const now = Date.now();
    const prefix = `${new Date(now).toISOString()} ${TAGS[stream]} `;
    const batch: LogEntry[] = new Array(texts.length);
    let fileText = "";
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i]!;
      const entry: LogEntry = { service: this.service, stream, timeUnixMs: now, text };
      batch[i] = entry;
      this.ring[this.ringNext] = entry;
      this.ringNext = (this.ringNext + 1) % this.ring.length;
      if (this.ringSize < this.ring.length) this.ringSize++;
      fileText += prefix + text + "\n";
    }
    this.file.write(fileText);
    for (const listener of this.listeners.keys()) listener(batch);
  }

  /** The last `n` lines, oldest first. */
  tail(n: number): LogEntry[] {
    const count = Math.min(n, this.ringSize);
    const out: LogEntry[] = [];
    const len = this.ring.length;
    for (let i = count; i > 0; i--) out.push(this.ring[(this.ringNext - i + len) % len]!);
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
