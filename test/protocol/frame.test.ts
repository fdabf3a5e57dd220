import { describe, expect, test } from "bun:test";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { FrameDecoder, encodeFrame } from "../../src/protocol/frame.ts";
import { MAX_REQUEST_FRAME } from "../../src/protocol/limits.ts";
import { decodeRequest, encodeRequestFrame } from "../../src/protocol/messages.ts";
import { rng } from "../helpers/rng.ts";

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

describe("frame codec", () => {
  const payloads = Array.from({ length: 200 }, (_, i) => {
    const p = new Uint8Array(i % 7 === 0 ? 0 : (i * 37) % 3000);
    for (let j = 0; j < p.length; j++) p[j] = (i + j) & 0xff;
    return p;
  });
  const stream = concat(payloads.map(encodeFrame));

  test("header is u32 little-endian length", () => {
    const frame = encodeFrame(new Uint8Array(0x0102));
    expect([...frame.subarray(0, 4)]).toEqual([0x02, 0x01, 0, 0]);
  });

  test("random split points and coalesced frames decode identically", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = rng(seed);
      const decoder = new FrameDecoder(MAX_REQUEST_FRAME);
      const got: Uint8Array[] = [];
      let offset = 0;
      while (offset < stream.length) {
        // Mix 1-byte dribbles, mid-size cuts and big coalesced chunks.
        const r = random();
        const size = r < 0.3 ? 1 + Math.floor(random() * 5) : r < 0.8 ? Math.floor(random() * 4000) : Math.floor(random() * 60000);
        got.push(...decoder.push(stream.slice(offset, offset + size)));
        offset += size;
      }
      expect(got.length).toBe(payloads.length);
      got.forEach((p, i) => expect(p).toEqual(payloads[i]!));
      expect(decoder.pending).toBe(0);
    }
  });

  test("an over-limit length header is rejected as soon as it is seen", () => {
    const decoder = new FrameDecoder(1024);
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xff]); // 4 GiB
    let error: unknown;
    try {
      decoder.push(header);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AdiError);
    expect((error as AdiError).code).toBe(ErrorCode.PROTOCOL);
    // Nothing was allocated for the claimed size.
    expect(decoder.pending).toBeLessThan(16);
  });

  test("an over-limit header split across chunks is rejected too", () => {
    const decoder = new FrameDecoder(1024);
    expect(decoder.push(new Uint8Array([0x01, 0x04]))).toEqual([]);
    expect(() => decoder.push(new Uint8Array([0x00, 0x00]))).toThrow(/exceeds/);
  });

  test("a frame exactly at the limit is accepted", () => {
    const decoder = new FrameDecoder(1024);
    const [frame] = decoder.push(encodeFrame(new Uint8Array(1024)));
    expect(frame?.length).toBe(1024);
  });

  test("requests round-trip through frames", () => {
    const decoder = new FrameDecoder(MAX_REQUEST_FRAME);
    const frame = encodeRequestFrame({ id: 42, kind: { case: "stopService", value: { name: "web", force: true } } });
    const [payload] = decoder.push(frame);
    const req = decodeRequest(payload!);
    expect(req.id).toBe(42);
    expect(req.kind.case).toBe("stopService");
    if (req.kind.case === "stopService") expect(req.kind.value).toMatchObject({ name: "web", force: true });
  });

  test("garbage payloads are a PROTOCOL error, not a crash", () => {
    // Field 2 (ping), length-delimited, claims 100 bytes but holds 1.
    const bad = new Uint8Array([0x12, 0x64, 0x00]);
    expect(() => decodeRequest(bad)).toThrow(AdiError);
  });
});
