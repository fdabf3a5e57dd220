// src/protocol/wire.ts against protobuf-es's BinaryReader/BinaryWriter, call
// for call: the same writes give the same bytes, and on random bytes every
// read ours accepts gives what protobuf-es reads (wire-codec.test.ts checks
// the generated messages on top of it).
import { describe, expect, test } from "bun:test";
import { BinaryReader, BinaryWriter, type WireType as PbWireType } from "@bufbuild/protobuf/wire";
import { WireReader, WireWriter, type WireType } from "../../src/protocol/wire.ts";
import { rng } from "../helpers/rng.ts";

type Rand = () => number;
const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const STRINGS = ["", "a", "__proto__", "x".repeat(127), "y".repeat(128), "z".repeat(129), "z".repeat(300), "ünïcødé ✓", "😀", "\uFEFFbom", "lone \uD800 surrogate", "tail \uDC00"];

/** The same random sequence of writes on both writers, sub-messages nested up to three deep. */
function writeBoth(rand: Rand, ours: WireWriter, theirs: BinaryWriter, depth = 0): void {
  for (let n = Math.floor(rand() * 12); n > 0; n--) {
    switch (Math.floor(rand() * 7)) {
      case 0: {
        const v = pick(rand, [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28, 0xffff_ffff, Math.floor(rand() * 0xffff_ffff)]);
        ours.uint32(v);
        theirs.uint32(v);
        break;
      }
      case 1: {
        const v = pick(rand, [0, 1, -1, -128, 2 ** 31 - 1, -(2 ** 31), Math.floor(rand() * 2000) - 1000]);
        ours.int32(v);
        theirs.int32(v);
        break;
      }
      case 2: {
        const v = rand() < 0.5;
        ours.bool(v);
        theirs.bool(v);
        break;
      }
      case 3: {
        const v = pick(rand, [0, -0, 1.5, Number.NaN, Infinity, -1e-310, Date.now() + rand()]);
        ours.double(v);
        theirs.double(v);
        break;
      }
      case 4: {
        const v = rand() < 0.6 ? pick(rand, STRINGS) : Array.from({ length: Math.floor(rand() * 200) }, () => String.fromCharCode(Math.floor(rand() * 0xffff))).join("");
        ours.string(v);
        theirs.string(v);
        break;
      }
      case 5: {
        const v = Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256));
        ours.bytes(v);
        theirs.bytes(v);
        break;
      }
      case 6:
        if (depth < 3) {
          ours.fork();
          theirs.fork();
          writeBoth(rand, ours, theirs, depth + 1);
          ours.join();
          theirs.join();
        }
        break;
    }
  }
}

type Outcome = { value: unknown } | { error: true };
function attempt(fn: () => unknown): Outcome {
  try {
    return { value: fn() };
  } catch {
    return { error: true };
  }
}

describe("wire runtime", () => {
  test("the same writes give protobuf-es's bytes (nested forks, long and non-ASCII strings, lone surrogates, buffer growth)", () => {
    const rand = rng(0x3117e);
    for (let i = 0; i < 3000; i++) {
      const ours = new WireWriter();
      const theirs = new BinaryWriter();
      writeBoth(rand, ours, theirs);
      expect(ours.finish()).toEqual(theirs.finish());
    }
  });

  test("a sub-message that ends at the end of the buffer survives the growth its length prefix causes", () => {
    // 124 bytes, then a one-byte sub-message: join() writes its length at 124 and needs 5 bytes of room there.
    const ours = new WireWriter().bytes(new Uint8Array(123)).fork().bool(true).join().finish();
    const theirs = new BinaryWriter().bytes(new Uint8Array(123)).fork().bool(true).join().finish();
    expect(ours).toEqual(theirs);
    expect(Array.from(ours.subarray(124))).toEqual([1, 1]);
  });

  test("out-of-range numbers are refused, not truncated", () => {
    expect(() => new WireWriter().uint32(-1)).toThrow(/invalid uint32/);
    expect(() => new WireWriter().uint32(2 ** 32)).toThrow(/invalid uint32/);
    expect(() => new WireWriter().uint32(1.5)).toThrow(/invalid uint32/);
    expect(() => new WireWriter().int32(2 ** 31)).toThrow(/invalid int32/);
    expect(() => new WireWriter().join()).toThrow(/fork stack empty/);
  });

  test("on random bytes, a read ours accepts gives what protobuf-es reads", () => {
    const rand = rng(0xbad5eed);
    let agreed = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      // Mostly varint-shaped bytes, so long varints, groups and ten-byte bools all occur.
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 24) }, () => (rand() < 0.5 ? 0x80 | Math.floor(rand() * 128) : Math.floor(rand() * 256)));
      const ours = new WireReader(bytes);
      const theirs = new BinaryReader(bytes);
      for (let step = 0; step < 6 && ours.pos < bytes.length; step++) {
        const op = Math.floor(rand() * 8);
        const wt = Math.floor(rand() * 6);
        const no = 1 + Math.floor(rand() * 3);
        const read = (r: WireReader | BinaryReader): unknown => {
          switch (op) {
            case 0:
              return r instanceof WireReader ? ((t) => [t >>> 3, t & 7])(r.tag()) : r.tag();
            case 1:
              return r.uint32();
            case 2:
              return r.int32();
            case 3:
              return r.bool();
            case 4:
              return r.double();
            case 5:
              return r instanceof WireReader ? r.string() : r.string(true);
            case 6:
              return Array.from(r.bytes());
            default:
              if (r instanceof WireReader) r.skip(wt as WireType, no);
              else r.skip(wt as PbWireType, no);
              return r.pos;
          }
        };
        const mine = attempt(() => read(ours));
        if ("error" in mine) {
          refused++;
          break;
        }
        expect(attempt(() => read(theirs))).toEqual(mine);
        expect(theirs.pos).toBe(ours.pos);
        agreed++;
      }
    }
    expect(agreed).toBeGreaterThan(10_000);
    expect(refused).toBeGreaterThan(1_000);
  });

  test("edge cases by hand: ten-byte varints, group skipping, strict UTF-8", () => {
    // int32 -1 is ten bytes; read back as -1, and as uint32 its low 32 bits.
    const minusOne = new WireWriter().int32(-1).finish();
    expect(minusOne.length).toBe(10);
    expect(new WireReader(minusOne).int32()).toBe(-1);
    expect(new WireReader(minusOne).uint32()).toBe(0xffff_ffff);
    // The tenth byte of a varint holds only bit 63: 0x02 there is no bit at all.
    expect(new WireReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02)).bool()).toBe(false);
    expect(new WireReader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).bool()).toBe(true);
    expect(() => new WireReader(new Uint8Array(11).fill(0x80)).uint32()).toThrow(/invalid varint/);
    // A group (field 5) holding a varint, a nested group and a string, then its end tag; the reader lands after it.
    const group = Uint8Array.of(0x2b, 0x08, 0x01, 0x33, 0x34, 0x12, 0x01, 0x61, 0x2c, 0x99);
    const r = new WireReader(group);
    const tag = r.tag();
    r.skip((tag & 7) as WireType, tag >>> 3);
    expect(r.pos).toBe(9);
    expect(() => new WireReader(Uint8Array.of(0x2b, 0x34)).skip(3, 5)).toThrow(/end group/);
    expect(() => new WireReader(Uint8Array.of(0x02, 0xc3, 0x28)).string()).toThrow(TypeError); // invalid UTF-8, not a short read
    // Groups nest at most 64 deep (fewer than protobuf-es allows at any message depth).
    const nested = (depth: number) => Uint8Array.from([...Array(depth).fill(0x2b), ...Array(depth).fill(0x2c)]);
    const skipAll = (bytes: Uint8Array) => {
      const reader = new WireReader(bytes);
      const t = reader.tag();
      reader.skip((t & 7) as WireType, t >>> 3);
      return reader.pos;
    };
    expect(skipAll(nested(64))).toBe(128);
    expect(() => skipAll(nested(65))).toThrow(/recursion depth/);
    expect(new WireReader(Uint8Array.of(0x03, 0xef, 0xbb, 0xbf)).string()).toBe("\uFEFF");
    expect(() => new WireReader(Uint8Array.of(0x05, 0x61)).string()).toThrow(/premature EOF/);
    // One-byte tags and varints take a short path: its edges, each read at the end of the input and one byte short of it.
    expect(new WireReader(Uint8Array.of(0x08)).tag()).toBe(0x08);
    expect(new WireReader(Uint8Array.of(0x7d)).tag()).toBe(0x7d); // field 15, wire type 5
    expect(() => new WireReader(Uint8Array.of(0x07)).tag()).toThrow(/field no 0/);
    expect(() => new WireReader(Uint8Array.of(0x0e)).tag()).toThrow(/wire type 6/);
    expect(() => new WireReader(Uint8Array.of(0x7f)).tag()).toThrow(/wire type 7/);
    expect(new WireReader(Uint8Array.of(0x80, 0x01)).tag()).toBe(0x80); // field 16: two bytes
    expect(() => new WireReader(new Uint8Array(0)).tag()).toThrow(/premature EOF/);
    expect(() => new WireReader(Uint8Array.of(0x88)).tag()).toThrow(/premature EOF/);
    expect(new WireReader(Uint8Array.of(0x7f)).uint32()).toBe(0x7f);
    expect(new WireReader(Uint8Array.of(0x00)).int32()).toBe(0);
    expect(() => new WireReader(new Uint8Array(0)).uint32()).toThrow(/premature EOF/);
    const two = new WireReader(Uint8Array.of(0x01, 0x02));
    expect([two.uint32(), two.uint32(), two.pos]).toEqual([1, 2, 2]);
    expect(() => two.uint32()).toThrow(/premature EOF/);
  });
});
