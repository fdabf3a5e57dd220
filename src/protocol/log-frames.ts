import type { LogStream } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { putFrameHeader } from "./frame.ts";
import { FRAME_HEADER_BYTES, REUSED_FRAME_BUFFER_MAX } from "./limits.ts";
import { putVarint, varintSize } from "./wire.ts";

/** A LogLine's fields (the daemon's log entries are plain objects of this shape). */
export interface LogLineFields {
  service: string;
  stream: LogStream;
  timeUnixMs: number;
  text: string;
}

/** Lines of one service, stream and time as UTF-8 bytes: how the daemon's logs hold them. */
export interface LineBatch {
  service: string;
  stream: LogStream;
  timeUnixMs: number;
  /** The lines, each followed by "\n". */
  bytes: Uint8Array;
  /** The index of each line's "\n" in `bytes`. */
  ends: readonly number[];
}

/*
 * The log hot path: whole frames of `Response { id = 1; logs = 6 { repeated
 * LogLine lines = 1 } }` and `Response { id = 1; log_line = 7 }` (LogLine =
 * { string service = 1; LogStream stream = 2; double time_unix_ms = 3;
 * string text = 4; }) written straight into one buffer of their exact size.
 * Byte for byte what protobuf-es writes (test/protocol/log-frames.test.ts),
 * without the growing writer and the copies into a frame that cost a quarter
 * of the daemon's CPU under 100k lines/s. Every other message goes through the
 * generated encodeResponse.
 */

const TAG_ID = (1 << 3) | 0; // varint
const TAG_LOGS = (6 << 3) | 2; // length-delimited
const TAG_LOG_LINE = (7 << 3) | 2;
const TAG_LINES = (1 << 3) | 2;
const TAG_SERVICE = (1 << 3) | 2;
const TAG_STREAM = (2 << 3) | 0;
const TAG_TIME = (3 << 3) | 1; // 64-bit
const TAG_TEXT = (4 << 3) | 2;

const fieldSize = (bytes: number) => (bytes > 0 ? 1 + varintSize(bytes) + bytes : 0);

const encoder = new TextEncoder();

/**
 * The frames of a follow's batch, each handed to `each` with the number of
 * lines it holds: `log_line` for one line, else `logs`, each at most about
 * `maxFrameBytes` (a read of a million empty lines must not become one frame
 * over the 16 MiB limit). The text is copied from the batch's bytes (no
 * string per line), and the fields every line shares (service, stream, time)
 * are encoded once. A frame is valid only during its `each` call: frames are
 * written into one buffer that the next frame reuses.
 */
export function encodeBatchFrames(id: number, batch: LineBatch, maxFrameBytes: number, each: (frame: Uint8Array, lines: number) => void): void {
  const { ends } = batch;
  const shared = sharedFields(batch);
  if (ends.length === 1) return each(encodeBatchLines(id, shared, batch, 0, 1, shared.length + fieldSize(ends[0]!), true), 1);
  // The sizes that split the batch are the frames' body sizes too: each line is measured once.
  let from = 0;
  let size = 0;
  for (let l = 0, start = 0; l < ends.length; l++) {
    const line = lineSize(shared.length, ends[l]! - start);
    if (size > 0 && size + line > maxFrameBytes) {
      each(encodeBatchLines(id, shared, batch, from, l, size, false), l - from);
      from = l;
      size = 0;
    }
    size += line;
    start = ends[l]! + 1;
  }
  each(encodeBatchLines(id, shared, batch, from, ends.length, size, false), ends.length - from);
}

/**
 * Frames up to REUSED_FRAME_BUFFER_MAX are written into one buffer that every batch reuses.
 * With a fresh buffer per frame (zeroed, then faulted in page by page) the
 * daemon used 540–690 ms of CPU under 100k lines/s, with this one 440–460 ms
 * (bench/README.md). A larger frame gets a buffer of its own, so the shared
 * one never holds more.
 */
let scratch = new Uint8Array(0);

function frameBuffer(size: number): Uint8Array {
  if (size > REUSED_FRAME_BUFFER_MAX) return new Uint8Array(size);
  if (scratch.length < size) scratch = new Uint8Array(Math.min(REUSED_FRAME_BUFFER_MAX, Math.max(size, scratch.length * 2)));
  return scratch.subarray(0, size);
}

/** One frame of lines [from, to) of the batch, `bodySize` bytes of them: their LogLines in a `logs`, or the one LogLine of a `log_line`. */
function encodeBatchLines(id: number, shared: Uint8Array, batch: LineBatch, from: number, to: number, bodySize: number, single: boolean): Uint8Array {
  const { ends } = batch;
  const start = from === 0 ? 0 : ends[from - 1]! + 1;
  const responseSize = (id !== 0 ? 1 + varintSize(id) : 0) + 1 + varintSize(bodySize) + bodySize;
  const buf = frameBuffer(FRAME_HEADER_BYTES + responseSize);
  putFrameHeader(buf, responseSize);
  let pos = FRAME_HEADER_BYTES;
  if (id !== 0) {
    buf[pos++] = TAG_ID;
    pos = putVarint(buf, pos, id);
  }
  buf[pos++] = single ? TAG_LOG_LINE : TAG_LOGS;
  pos = putVarint(buf, pos, bodySize);
  writeLines(buf, pos, shared, batch.bytes, ends, from, to, start, single);
  return buf;
}

/*
 * The per-line work is kept in small functions of their own: JSC compiles a
 * hot function at each tier, and one large encoder cost ≈ 60 ms of JIT time
 * (BUN_JSC_reportCompileTimes) in a freshly started daemon.
 */

/** The LogLine fields every line of the batch shares: service, stream, time. */
function sharedFields(batch: LineBatch): Uint8Array {
  const service = encoder.encode(batch.service);
  const shared = new Uint8Array(fieldSize(service.length) + (batch.stream !== 0 ? 1 + varintSize(batch.stream) : 0) + (!Object.is(batch.timeUnixMs, 0) ? 9 : 0));
  let p = 0;
  if (service.length > 0) {
    shared[p++] = TAG_SERVICE;
    p = putVarint(shared, p, service.length);
    shared.set(service, p);
    p += service.length;
  }
  if (batch.stream !== 0) {
    shared[p++] = TAG_STREAM;
    p = putVarint(shared, p, batch.stream);
  }
  if (!Object.is(batch.timeUnixMs, 0)) {
    shared[p++] = TAG_TIME;
    new DataView(shared.buffer).setFloat64(p, batch.timeUnixMs, true);
  }
  return shared;
}

/** Bytes of one LogLine inside a `logs`: its `lines` field header, the shared fields and its text field. */
function lineSize(sharedSize: number, textSize: number): number {
  const size = sharedSize + fieldSize(textSize);
  return 1 + varintSize(size) + size;
}

function writeLines(buf: Uint8Array, pos: number, shared: Uint8Array, bytes: Uint8Array, ends: readonly number[], from: number, to: number, start: number, single: boolean): void {
  for (let l = from; l < to; l++) {
    const end = ends[l]!;
    const textSize = end - start;
    if (!single) {
      buf[pos++] = TAG_LINES;
      pos = putVarint(buf, pos, shared.length + fieldSize(textSize));
    }
    pos = copy(buf, pos, shared, 0, shared.length);
    if (textSize > 0) {
      buf[pos++] = TAG_TEXT;
      pos = putVarint(buf, pos, textSize);
      pos = copy(buf, pos, bytes, start, end);
    }
    start = end + 1;
  }
}

/** src[from, to) into dst at pos; the new pos. A loop for short runs, where a subarray would cost more than the copy. */
function copy(dst: Uint8Array, pos: number, src: Uint8Array, from: number, to: number): number {
  if (to - from > 64) {
    dst.set(src.subarray(from, to), pos);
    return pos + to - from;
  }
  for (let i = from; i < to; i++) dst[pos++] = src[i]!;
  return pos;
}

/** The frame of a `logs` response carrying `lines` (u32 ids, stream values < 2^31). */
export function encodeLogsFrame(id: number, lines: readonly LogLineFields[]): Uint8Array {
  return encodeLines(id, lines, TAG_LOGS);
}

/** The frame of a `log_line` response: one line of a follow. */
export function encodeLogLineFrame(id: number, line: LogLineFields): Uint8Array {
  return encodeLines(id, [line], TAG_LOG_LINE);
}

function encodeLines(id: number, lines: readonly LogLineFields[], kindTag: number): Uint8Array {
  const n = lines.length;
  const serviceBytes = new Array<number>(n);
  const textBytes = new Array<number>(n);
  const lineSizes = new Array<number>(n);
  // Lines of one batch share their service: measure it once.
  let lastService: string | undefined;
  let lastServiceBytes = 0;
  let linesSize = 0;
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    if (line.service !== lastService) {
      lastService = line.service;
      lastServiceBytes = Buffer.byteLength(line.service);
    }
    serviceBytes[i] = lastServiceBytes;
    const tb = Buffer.byteLength(line.text);
    textBytes[i] = tb;
    const size = fieldSize(lastServiceBytes) + (line.stream !== 0 ? 1 + varintSize(line.stream) : 0) + (!Object.is(line.timeUnixMs, 0) ? 9 : 0) + fieldSize(tb);
    lineSizes[i] = size;
    linesSize += 1 + varintSize(size) + size;
  }
  // log_line holds the one LogLine itself; logs wraps each in a `lines` field.
  const single = kindTag === TAG_LOG_LINE;
  const bodySize = single ? lineSizes[0]! : linesSize;
  const responseSize = (id !== 0 ? 1 + varintSize(id) : 0) + 1 + varintSize(bodySize) + bodySize;
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + responseSize);
  putFrameHeader(buf, responseSize);
  let pos = FRAME_HEADER_BYTES;
  if (id !== 0) {
    buf[pos++] = TAG_ID;
    pos = putVarint(buf, pos, id);
  }
  buf[pos++] = kindTag;
  pos = putVarint(buf, pos, bodySize);
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    if (!single) {
      buf[pos++] = TAG_LINES;
      pos = putVarint(buf, pos, lineSizes[i]!);
    }
    const sb = serviceBytes[i]!;
    if (sb > 0) {
      buf[pos++] = TAG_SERVICE;
      pos = putVarint(buf, pos, sb);
      pos += buf.write(line.service, pos, "utf8");
    }
    if (line.stream !== 0) {
      buf[pos++] = TAG_STREAM;
      pos = putVarint(buf, pos, line.stream);
    }
    if (!Object.is(line.timeUnixMs, 0)) {
      buf[pos++] = TAG_TIME;
      buf.writeDoubleLE(line.timeUnixMs, pos);
      pos += 8;
    }
    const tb = textBytes[i]!;
    if (tb > 0) {
      buf[pos++] = TAG_TEXT;
      pos = putVarint(buf, pos, tb);
      pos += buf.write(line.text, pos, "utf8");
    }
  }
  return buf;
}
