import { describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { LogStream, ResponseSchema } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { encodeLogLineFrame, encodeLogsFrame, type LogLineFields } from "../../src/protocol/log-frames.ts";
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
