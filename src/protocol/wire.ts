/**
 * The protobuf binary format, reduced to what daemon.proto uses (uint32,
 * int32 and enums, bool, double, string, bytes, messages, string maps):
 * the runtime of the generated codec (src/gen/.../daemon_wire.ts).
 *
 * Why not `@bufbuild/protobuf/wire`: loading it builds protobuf-es's int64
 * support (BigInt probes, a DataView) and its first reader or writer creates
 * a TextEncoder and a TextDecoder. That is ≈ 1.5–2 ms of a ≈ 30 ms
 * `adi daemon status`, for 64-bit types daemon.proto has none of
 * (bench/README.md). test/protocol/wire-codec.test.ts holds the two codecs
 * to the same bytes and the same decoded messages, on random and on mutated
 * input.
 */

/** Varint, 64-bit, length-delimited, start group, end group, 32-bit. */
export type WireType = 0 | 1 | 2 | 3 | 4 | 5;

const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const BIT32 = 5;

/** Strings up to this many UTF-16 units are written as ASCII first, where they are: no TextEncoder. */
const ASCII_MAX = 128;

let strictDecoder: TextDecoder | undefined;
let encoder: TextEncoder | undefined;

/** Reads one message's bytes; every read past the end throws RangeError("premature EOF"). */
export class WireReader {
  pos = 0;
  private readonly len: number;
  private view: DataView | undefined;

  constructor(private readonly buf: Uint8Array) {
    this.len = buf.length;
  }

  private assertBounds(): void {
    if (this.pos > this.len) throw new RangeError("premature EOF");
  }

  /**
   * A field's tag: its number is `tag >>> 3`, its wire type `tag & 7`. A
   * number, not a pair: a decoded list of 100 services would otherwise make
   * an array for each of its ≈ 1,500 fields. Tags that do not fit uint32 or
   * name no field are refused.
   */
  tag(): number {
    // One byte (fields 1–15, a known wire type) is nearly every tag: read it here. A decode runs
    // interpreted in the CLI (cli/fast-path.ts holds the JIT back), where each call costs.
    const first = this.buf[this.pos]!; // undefined past the end: every test below fails
    if (first >= 8 && first < 0x80 && (first & 7) <= 5) {
      this.pos++;
      return first;
    }
    const start = this.pos;
    const tag = this.uint32();
    const read = this.pos - start;
    if (read > 5 || (read === 5 && this.buf[this.pos - 1]! > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
    const fieldNo = tag >>> 3;
    const wireType = tag & 7;
    if (fieldNo <= 0 || wireType > 5) throw new Error(`illegal tag: field no ${fieldNo} wire type ${wireType}`);
    return tag;
  }

  /** A varint's low 32 bits, unsigned. Up to 10 bytes (an int32 written sign-extended); more is invalid. */
  uint32(): number {
    const buf = this.buf;
    const first = buf[this.pos]!; // undefined past the end: fails the test
    if (first < 0x80) {
      this.pos++;
      return first;
    }
    let result = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      b = buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.assertBounds();
        return result >>> 0;
      }
    }
    b = buf[this.pos++]!;
    result |= (b & 0x0f) << 28;
    for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = buf[this.pos++]!;
    if ((b & 0x80) !== 0) throw new Error("invalid varint");
    this.assertBounds();
    return result >>> 0;
  }

  /** A varint's low 32 bits, signed: int32 and enum values. */
  int32(): number {
    return this.uint32() | 0;
  }

  /** True when any of the varint's up to 64 bits is set. */
  bool(): boolean {
    const buf = this.buf;
    let any = 0;
    for (let read = 0; read < 10; read++) {
      const b = buf[this.pos++]!;
      any |= b & (read === 9 ? 0x01 : 0x7f); // the tenth byte holds bit 63 and nothing more
      if ((b & 0x80) === 0) {
        this.assertBounds();
        return any !== 0;
      }
    }
    throw new Error("invalid varint");
  }

  double(): number {
    const at = this.pos;
    this.pos += 8;
    this.assertBounds();
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.view.getFloat64(at, true);
  }

  /** Length-delimited bytes, as a view of the input (no copy). */
  bytes(): Uint8Array {
    const len = this.uint32();
    const start = this.pos;
    this.pos += len;
    this.assertBounds();
    return this.buf.subarray(start, this.pos);
  }

  /**
   * A proto3 string: invalid UTF-8 is an error, and a leading U+FEFF is text.
   * Always TextDecoder: an ASCII check and fromCharCode for short strings took
   * longer, 84 against 48 µs for a list of 100 services with the JIT and 1.0
   * against 0.6 ms interpreted (bench/README.md).
   */
  string(): string {
    strictDecoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    return strictDecoder.decode(this.bytes());
  }

  /**
   * Skip a field this codec does not know (a newer peer's), groups included,
   * nested at most 64 deep: protobuf-es allows 100 less the depth of the
   * message, so whatever this accepts, it accepts too.
   */
  skip(wireType: WireType, fieldNo: number, depthLeft = 64): void {
    switch (wireType) {
      case VARINT:
        while (this.buf[this.pos++]! & 0x80) {}
        break;
      case BIT64:
        this.pos += 8;
        break;
      case BIT32:
        this.pos += 4;
        break;
      case LENGTH_DELIMITED: {
        const len = this.uint32();
        this.pos += len;
        break;
      }
      case START_GROUP:
        if (depthLeft <= 0) throw new Error("maximum recursion depth reached");
        for (;;) {
          const tag = this.tag();
          const no = tag >>> 3;
          const wt = (tag & 7) as WireType;
          if (wt === END_GROUP) {
            if (no !== fieldNo) throw new Error("invalid end group tag");
            break;
          }
          this.skip(wt, no, depthLeft - 1);
        }
        break;
      default:
        throw new Error(`cannot skip wire type ${wireType}`);
    }
    this.assertBounds();
  }
}

/** Bytes of a uint32 as a varint. */
export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : value < 0x1000_0000 ? 4 : 5;
}

/** A uint32 as a varint into `buf` at `pos` (room is the caller's); the position after it. */
export function putVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value > 0x7f) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

function assertUint32(value: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new Error(`invalid uint32: ${value}`);
}

function assertInt32(value: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) throw new Error(`invalid int32: ${value}`);
}

/**
 * Writes one message into a growing buffer. A sub-message is written between
 * fork() and join(): fork reserves one byte for its length, and join moves
 * the body along when the length needs more.
 */
export class WireWriter {
  private buf = new Uint8Array(128);
  private pos = 0;
  private readonly forks: number[] = [];
  private view: DataView | undefined;

  private ensure(size: number): void {
    const required = this.pos + size;
    if (required <= this.buf.length) return;
    let grown = this.buf.length * 2;
    while (grown < required) grown *= 2;
    const next = new Uint8Array(grown);
    // All of it, not only up to pos: join() writes a length below bytes it has already written.
    next.set(this.buf);
    this.buf = next;
    this.view = undefined;
  }

  /**
   * Empty the writer and skip `headroom` bytes (a frame header the caller
   * fills in). A buffer grown past `keepMax` by an earlier message is dropped,
   * so one big message does not pin its buffer for good.
   */
  restart(headroom: number, keepMax: number): void {
    if (this.buf.length > keepMax) {
      this.buf = new Uint8Array(128);
      this.view = undefined;
    }
    this.pos = 0;
    this.forks.length = 0;
    this.ensure(headroom);
    this.pos = headroom;
  }

  /** The bytes written so far, as a view: valid until the next write or restart. */
  written(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** The bytes written; the writer is empty again. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    this.forks.length = 0;
    return out;
  }

  fork(): this {
    this.forks.push(this.pos);
    this.ensure(1);
    this.buf[this.pos++] = 0;
    return this;
  }

  join(): this {
    const at = this.forks.pop();
    if (at === undefined) throw new Error("invalid state, fork stack empty");
    const len = this.pos - at - 1;
    const prefix = varintSize(len);
    if (prefix > 1) {
      this.ensure(prefix - 1);
      this.buf.copyWithin(at + prefix, at + 1, this.pos);
    }
    this.pos = at;
    this.uint32(len);
    this.pos += len;
    return this;
  }

  uint32(value: number): this {
    assertUint32(value);
    this.ensure(5);
    this.pos = putVarint(this.buf, this.pos, value);
    return this;
  }

  /** Negative values are sign-extended to 64 bits: ten bytes, as every protobuf runtime writes them. */
  int32(value: number): this {
    assertInt32(value);
    if (value >= 0) return this.uint32(value);
    this.ensure(10);
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>= 7;
    }
    this.buf[this.pos++] = 1;
    return this;
  }

  bool(value: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  double(value: number): this {
    this.ensure(8);
    this.view ??= new DataView(this.buf.buffer);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** UTF-8; a lone surrogate becomes U+FFFD, as TextEncoder makes it. */
  string(value: string): this {
    if (typeof value !== "string") value = String(value);
    const len = value.length;
    if (len <= ASCII_MAX) {
      this.ensure(len + 5);
      const buf = this.buf;
      let pos = this.pos + varintSize(len);
      let i = 0;
      for (; i < len; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        buf[pos++] = code;
      }
      if (i === len) {
        this.uint32(len);
        this.pos += len;
        return this;
      }
    }
    // A UTF-16 unit is at most 3 UTF-8 bytes; the length goes first, so guess its size and move the text if wrong.
    this.ensure(len * 3 + 5);
    const guess = varintSize(len);
    const start = this.pos;
    encoder ??= new TextEncoder();
    const { written } = encoder.encodeInto(value, this.buf.subarray(start + guess));
    const prefix = varintSize(written);
    if (prefix !== guess) this.buf.copyWithin(start + prefix, start + guess, start + guess + written);
    this.uint32(written);
    this.pos += written;
    return this;
  }
}
