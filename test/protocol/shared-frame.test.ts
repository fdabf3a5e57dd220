import { expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ResponseSchema, ServiceState } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import type { ResponseInit } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { encodeResponseFrameShared } from "../../src/protocol/messages.ts";

// The daemon encodes every response into one reused buffer (messages.ts). The oracle is
// protobuf-es itself: each frame, in any order of sizes, is its bytes and nothing else.

const viaProtobufEs = (r: ResponseInit) => encodeFrame(toBinary(ResponseSchema, create(ResponseSchema, r as never)));

const services = (n: number, command: string): ResponseInit => ({
  id: n,
  kind: {
    case: "services",
    value: { list: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, state: ServiceState.RUNNING, pid: 1000 + i, uptimeSecs: i, command, lastExitCode: i % 2 ? -1 : undefined })) },
  },
});

const sequence: [string, ResponseInit][] = [
  ["ping", { id: 1, kind: { case: "pong", value: { version: "1.2.3" } } }],
  ["100 services", services(100, "sleep 1000")],
  ["an error after a bigger response", { id: 3, kind: { case: "error", value: { code: 5, message: "no such service" } } }],
  ["more than the kept buffer (256 KiB)", services(2000, "x".repeat(200))],
  ["small again, after the big buffer was dropped", { id: 5, kind: { case: "ok", value: {} } }],
  ["utf-8", services(3, "ünïcödé 🎉")],
];

test("each shared frame is byte for byte protobuf-es's frame, whatever came before it", () => {
  for (const [name, response] of sequence) {
    const frame = encodeResponseFrameShared(response);
    expect({ name, same: Buffer.from(frame).equals(Buffer.from(viaProtobufEs(response))) }).toEqual({ name, same: true });
  }
});

test("the next call reuses the buffer: a frame is only valid until then", () => {
  const first = encodeResponseFrameShared(services(10, "a"));
  const copy = first.slice();
  encodeResponseFrameShared(services(10, "b"));
  expect(first.buffer).toBe(encodeResponseFrameShared(services(1, "c")).buffer);
  expect(Buffer.from(first).equals(Buffer.from(copy))).toBe(false);
});
