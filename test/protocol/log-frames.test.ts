import { describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { LogStream, ResponseSchema } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { encodeBatchFrames, encodeLogLineFrame, encodeLogsFrame, type LineBatch, type LogLineFields } from "../../src/protocol/log-frames.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { decodeResponse } from "../../src/protocol/messages.ts";

// The oracle is protobuf-es itself (reflection), not the generated codec.
const viaProtobufEs = (id: number, kind: { case: "logs"; value: { lines: LogLineFields[] } } | { case: "logLine"; value: LogLineFields }) =>
  encodeFrame(toBinary(ResponseSchema, create(ResponseSchema, { id, kind })));

const cases: [string, number, LogLineFields[]][] = [
  ["plain lines", 7, [{ service: "web", stream: LogStream.STDOUT, timeUnixMs: 1_764_000_000_123, text: "line 1" }, { service: "web", stream: LogStream.STDERR, timeUnixMs: 1_764_000_000_124, text: "line 2" }]],
  ["zero values are omitted", 0, [{ service: "", stream: LogStream.UNSPECIFIED, timeUnixMs: 0, text: "" }]],
  ["utf-8 and long text", 4_000_000_000, [{ service: "sérvice-ü", stream: LogStream.SYSTEM, timeUnixMs: 1.5, text: "ünïcödé 🎉 ".repeat(2000) }]],
  ["mixed services", 300, [{ service: "a", stream: LogStream.STDOUT, timeUnixMs: 1, text: "x" }, { service: "bb", stream: LogStream.STDOUT, timeUnixMs: 2, text: "y" }, { service: "", stream: LogStream.STDOUT, timeUnixMs: 3, text: "z" }]],
  ["no lines", 1, []],
  ["many lines", 99, Array.from({ length: 5000 }, (_, i) => ({ service: "chatty", stream: LogStream.STDOUT, timeUnixMs: 1_764_000_000_000 + i, text: `line ${i}` }))],
];

describe("encodeLogsFrame", () => {
  for (const [name, id, lines] of cases) {
    test(`byte for byte what protobuf-es writes: ${name}`, () => {
      const ours = encodeLogsFrame(id, lines);
      expect(Buffer.from(ours).equals(Buffer.from(viaProtobufEs(id, { case: "logs", value: { lines } })))).toBe(true);
      const back = decodeResponse(ours.subarray(4));
      expect(back.id).toBe(id);
      expect(back.kind.case).toBe("logs");
    });
  }
});

describe("encodeLogLineFrame", () => {
  for (const [name, id, lines] of cases) {
    const line = lines[0];
    if (!line) continue;
    test(`byte for byte what protobuf-es writes: ${name}`, () => {
      const ours = encodeLogLineFrame(id, line);
      expect(Buffer.from(ours).equals(Buffer.from(viaProtobufEs(id, { case: "logLine", value: line })))).toBe(true);
      const back = decodeResponse(ours.subarray(4));
      expect(back.kind.case).toBe("logLine");
      expect(back.kind.value).toMatchObject(line);
    });
  }
});

describe("encodeBatchFrames", () => {
  /** A batch as the daemon's log holds it: the lines' UTF-8, each ended by "\n". */
  function batchOf(service: string, stream: LogStream, timeUnixMs: number, texts: string[]): LineBatch {
    const bytes = new TextEncoder().encode(texts.map((t) => `${t}\n`).join(""));
    const ends: number[] = [];
    bytes.forEach((b, i) => b === 10 && ends.push(i));
    return { service, stream, timeUnixMs, bytes, ends };
  }

  for (const [name, id, lines] of cases) {
    if (lines.length === 0 || lines.some((l) => l.service !== lines[0]!.service || l.stream !== lines[0]!.stream || l.timeUnixMs !== lines[0]!.timeUnixMs)) continue;
    test(`byte for byte what protobuf-es writes: ${name}`, () => check(id, lines));
  }
  test("byte for byte what protobuf-es writes: shared fields, empty and long lines, one line (log_line)", () => {
    const texts = ["", "short", "ünï 🎉", "x".repeat(300), "", "y".repeat(16_384)];
    for (const [service, stream, time] of [["chatty", LogStream.STDOUT, 1_764_000_000_123], ["", LogStream.UNSPECIFIED, 0], ["sérvice", LogStream.SYSTEM, 2.5]] as const) {
      check(5, texts.map((text) => ({ service, stream, timeUnixMs: time, text })));
      check(6, [{ service, stream, timeUnixMs: time, text: "one line" }]);
    }
  });

  /** Each frame copied out of the shared buffer during its call, as a socket write would take it. */
  function framesOf(id: number, batch: LineBatch, maxFrameBytes: number): { frame: Uint8Array; lines: number }[] {
    const frames: { frame: Uint8Array; lines: number }[] = [];
    encodeBatchFrames(id, batch, maxFrameBytes, (frame, lines) => frames.push({ frame: frame.slice(), lines }));
    return frames;
  }

  function check(id: number, lines: LogLineFields[]) {
    const first = lines[0]!;
    const ours = framesOf(id, batchOf(first.service, first.stream, first.timeUnixMs, lines.map((l) => l.text)), 1 << 20);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.lines).toBe(lines.length);
    const kind = lines.length === 1 ? ({ case: "logLine", value: first } as const) : ({ case: "logs", value: { lines } } as const);
    expect(Buffer.from(ours[0]!.frame).equals(Buffer.from(viaProtobufEs(id, kind)))).toBe(true);
  }

  test("frames share one buffer, and a smaller frame after a larger one carries none of its bytes", () => {
    const big = batchOf("svc", LogStream.STDOUT, 1, Array.from({ length: 2000 }, (_, i) => `line ${i}`));
    const small = batchOf("s", LogStream.STDERR, 2, ["a", "b"]);
    const buffers = new Set<ArrayBufferLike>();
    for (const batch of [big, small, big, small]) encodeBatchFrames(3, batch, 1 << 20, (frame) => buffers.add(frame.buffer));
    expect(buffers.size).toBe(1);
    const lines = ["a", "b"].map((text) => ({ service: "s", stream: LogStream.STDERR, timeUnixMs: 2, text }));
    const [only] = framesOf(3, small, 1 << 20);
    expect(Buffer.from(only!.frame).equals(Buffer.from(viaProtobufEs(3, { case: "logs", value: { lines } })))).toBe(true);
  });

  test("a frame larger than the shared buffer's cap gets a buffer of its own", () => {
    const texts = Array.from({ length: 40 }, (_, i) => `${i}`.repeat(10_000));
    const buffers: ArrayBufferLike[] = [];
    encodeBatchFrames(3, batchOf("svc", LogStream.STDOUT, 1, texts), 1 << 20, (frame) => buffers.push(frame.buffer));
    encodeBatchFrames(3, batchOf("svc", LogStream.STDOUT, 1, ["x", "y"]), 1 << 20, (frame) => buffers.push(frame.buffer));
    expect(buffers[0]!.byteLength).toBeGreaterThan(256 * 1024);
    expect(buffers[1]!.byteLength).toBeLessThanOrEqual(256 * 1024);
  });

  test("a batch larger than the frame cap is split into frames of whole lines, each what protobuf-es writes", () => {
    const texts = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? "" : `line ${i} ${"é".repeat(i % 50)}`));
    const frames = framesOf(9, batchOf("svc", LogStream.STDERR, 1_764_000_000_000, texts), 16 * 1024);
    expect(frames.length).toBeGreaterThan(5);
    const seen: string[] = [];
    for (const { frame, lines: count } of frames) {
      expect(frame.length).toBeLessThanOrEqual(16 * 1024 + 64);
      const back = decodeResponse(frame.subarray(4));
      expect(back.kind.case).toBe("logs");
      const lines = (back.kind.value as { lines: LogLineFields[] }).lines;
      expect(lines).toHaveLength(count);
      expect(Buffer.from(frame).equals(Buffer.from(viaProtobufEs(9, { case: "logs", value: { lines } })))).toBe(true);
      seen.push(...lines.map((l) => l.text));
    }
    expect(seen).toEqual(texts);
  });
});
