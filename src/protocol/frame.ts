import { AdiError, ErrorCode } from "../errors.ts";
import { FRAME_HEADER_BYTES } from "./limits.ts";

/** A frame's header: the payload's length as u32 little-endian, in the first FRAME_HEADER_BYTES of `frame`. */
export function putFrameHeader(frame: Uint8Array, payloadLength: number): void {
  frame[0] = payloadLength & 0xff;
  frame[1] = (payloadLength >>> 8) & 0xff;
  frame[2] = (payloadLength >>> 16) & 0xff;
  frame[3] = payloadLength >>> 24;
}

/** Prefix a payload with its u32 little-endian length. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  putFrameHeader(frame, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * A push decoder: feed it arbitrary slices of the stream, get whole payloads
 * back. A length header over `maxFrame` throws a PROTOCOL error as soon as the
 * header is seen, before anything is allocated for it.
 */
export class FrameDecoder {
  private buffer: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;

  constructor(private readonly maxFrame: number) {}

  /** Bytes received but not yet returned as a frame. */
  get pending(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let input = chunk;
    // Fast path: nothing buffered, so decode straight out of the chunk.
    if (this.pending === 0) {
      let offset = 0;
      while (input.length - offset >= FRAME_HEADER_BYTES) {
        const length = this.readLength(input, offset);
        const frameEnd = offset + FRAME_HEADER_BYTES + length;
        if (frameEnd > input.length) break;
        frames.push(input.subarray(offset + FRAME_HEADER_BYTES, frameEnd));
        offset = frameEnd;
      }
      if (offset === input.length) return frames;
      input = input.subarray(offset);
    }
    this.append(input);
    while (this.pending >= FRAME_HEADER_BYTES) {
      const length = this.readLength(this.buffer, this.start);
      const frameEnd = this.start + FRAME_HEADER_BYTES + length;
      if (frameEnd > this.end) break;
      // Copy out: the buffer is reused for later bytes.
      frames.push(this.buffer.slice(this.start + FRAME_HEADER_BYTES, frameEnd));
      this.start = frameEnd;
    }
    if (this.start === this.end) this.start = this.end = 0;
    return frames;
  }

  private readLength(bytes: Uint8Array, offset: number): number {
    const length =
      (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)) +
      bytes[offset + 3]! * 0x1000000;
    if (length > this.maxFrame) {
      throw new AdiError(
        ErrorCode.PROTOCOL,
        `frame of ${length} bytes exceeds the ${this.maxFrame}-byte limit`,
      );
    }
    return length;
  }

  private append(bytes: Uint8Array): void {
    const needed = this.pending + bytes.length;
    if (this.end + bytes.length > this.buffer.length) {
      // Compact, growing only as far as the data actually received needs.
      const next =
        needed > this.buffer.length
          ? new Uint8Array(Math.max(needed, this.buffer.length * 2, 4096))
          : this.buffer;
      if (next === this.buffer) this.buffer.copyWithin(0, this.start, this.end);
      else next.set(this.buffer.subarray(this.start, this.end), 0);
      this.buffer = next;
      this.end = this.pending;
      this.start = 0;
    }
    this.buffer.set(bytes, this.end);
    this.end += bytes.length;
  }
}
