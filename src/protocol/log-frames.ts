import type { LogStream } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { FRAME_HEADER_BYTES } from "./limits.ts";

/** A LogLine's fields (the daemon's log entries are plain objects of this shape). */
export interface LogLineFields {
  service: string;
  stream: LogStream;
  timeUnixMs: number;
  text: string;
}

/*
 * The log-follow hot path: a whole frame of `Response { id = 1; logs = 6 {
 * repeated LogLine lines = 1 { string service = 1; LogStream stream = 2;
 * double time_unix_ms = 3; string text = 4; } } }` written straight into one
 * buffer of its exact size. Byte for byte what encodeResponse(…)
 * followed by encodeFrame() produces (test/protocol/log-frames.test.ts checks
 * it), without the reflection walk, the growing writer and the second copy
 * that cost a quarter of the daemon's CPU under 100k lines/s. Every other
 * message goes through the generated encodeResponse.
 */

const TAG_ID = (1 << 3) | 0; // varint
const TAG_LOGS = (6 << 3) | 2; // length-delimited
const TAG_LINES = (1 << 3) | 2;
const TAG_SERVICE = (1 << 3) | 2;
const TAG_STREAM = (2 << 3) | 0;
const TAG_TIME = (3 << 3) | 1; // 64-bit
const TAG_TEXT = (4 << 3) | 2;

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function lineSize(line: LogLineFields, serviceField: number, textBytes: number): number {
  let size = serviceField;
  if (line.stream !== 0) size += 1 + varintSize(line.stream);
  if (line.timeUnixMs !== 0) size += 9;
  if (textBytes > 0) size += 1 + varintSize(textBytes) + textBytes;
  return size;
}

/** The length-prefixed frame of a `logs` response carrying `lines` (u32 ids, stream values < 2^31). */
export function encodeLogsFrame(id: number, lines: readonly LogLineFields[]): Uint8Array {
  const n = lines.length;
  const textBytes = new Array<number>(n);
  const lineSizes = new Array<number>(n);
  // Lines of one batch share their service: measure its field once.
  let lastService = "";
  let serviceField = 0;
  let logsSize = 0;
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    if (line.service !== lastService || i === 0) {
      lastService = line.service;
      const b = Buffer.byteLength(line.service);
      serviceField = b > 0 ? 1 + varintSize(b) + b : 0;
    }
    const tb = Buffer.byteLength(line.text);
    textBytes[i] = tb;
    const size = lineSize(line, serviceField, tb);
    lineSizes[i] = size;
    logsSize += 1 + varintSize(size) + size;
  }
  const responseSize = (id !== 0 ? 1 + varintSize(id) : 0) + 1 + varintSize(logsSize) + logsSize;
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + responseSize);
  buf.writeUInt32LE(responseSize, 0);
  let pos = FRAME_HEADER_BYTES;
  const varint = (v: number) => {
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
  };
  if (id !== 0) {
    buf[pos++] = TAG_ID;
    varint(id);
  }
  buf[pos++] = TAG_LOGS;
  varint(logsSize);
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    buf[pos++] = TAG_LINES;
    varint(lineSizes[i]!);
    if (line.service.length > 0) {
      buf[pos++] = TAG_SERVICE;
      varint(Buffer.byteLength(line.service));
      pos += buf.write(line.service, pos, "utf8");
    }
    if (line.stream !== 0) {
      buf[pos++] = TAG_STREAM;
      varint(line.stream);
    }
    if (line.timeUnixMs !== 0) {
      buf[pos++] = TAG_TIME;
      buf.writeDoubleLE(line.timeUnixMs, pos);
      pos += 8;
    }
    const tb = textBytes[i]!;
    if (tb > 0) {
      buf[pos++] = TAG_TEXT;
      varint(tb);
      pos += buf.write(line.text, pos, "utf8");
    }
  }
  return buf;
}
