import { isUtf8 } from "node:buffer";

/** Longer lines are cut into pieces of at most this many bytes, between characters (never buffered without bound). */
export const MAX_LINE_BYTES = 16 * 1024;

/** Complete lines: valid UTF-8, each line followed by one "\n" (no CR before it, at most MAX_LINE_BYTES). */
export interface Lines {
  bytes: Uint8Array;
  /** The index in `bytes` of each line's "\n" (= where its text ends). */
  ends: readonly number[];
}

const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder(); // not fatal: an invalid sequence becomes U+FFFD
const encoder = new TextEncoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** How many bytes at the end of `b` start a UTF-8 character that `b` does not finish (0–3). */
function unfinishedTail(b: Uint8Array): number {
  const n = b.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const c = b[n - k]!;
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

/**
 * Turns a pipe's byte stream into lines, working on bytes: one pass per read
 * and no string or object per line. Under 100k lines/s a string per line
 * (decode, split, an entry each) cost the daemon more than everything else
 * (bench/README.md). Text that is not UTF-8 is repaired (U+FFFD), so every
 * line can go into a protobuf string; a character split across reads is
 * held back until its last byte arrives.
 */
export class LineAssembler {
  /** The unfinished line: already cut and repaired, except for an unfinished last character. */
  private partial: Uint8Array = EMPTY;

  /** The lines `chunk` completes, or null; `end`: the stream is over and an unfinished line counts as a line. */
  push(chunk: Uint8Array, end = false): Lines | null {
    let input = this.partial.length === 0 ? chunk : chunk.length === 0 ? this.partial : concat(this.partial, chunk);
    const whole = input.length - (end ? 0 : unfinishedTail(input));
    if (!isUtf8(input.subarray(0, whole))) {
      const repaired = encoder.encode(decoder.decode(input.subarray(0, whole)));
      input = whole === input.length ? repaired : concat(repaired, input.subarray(whole));
    }
    // Room for every byte, a "\n" per cut, and the last line's "\n" at the end.
    const out = new Uint8Array(input.length + Math.ceil(input.length / (MAX_LINE_BYTES - 3)) + 1);
    const ends: number[] = [];
    let o = 0;
    let lineStart = 0;
    for (let i = 0; i < input.length; i++) {
      const b = input[i]!;
      if (b === 10) {
        if (o > lineStart && out[o - 1] === 13) o--; // CRLF
        ends.push(o);
        out[o++] = 10;
        lineStart = o;
        continue;
      }
      // Near the cap, cut before a character that would not fit (never inside one).
      if (o - lineStart > MAX_LINE_BYTES - 4 && (b & 0xc0) !== 0x80) {
        const size = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        if (o - lineStart + size > MAX_LINE_BYTES) {
          ends.push(o);
          out[o++] = 10;
          lineStart = o;
        }
      }
      out[o++] = b;
    }
    if (end && o > lineStart) {
      ends.push(o);
      out[o++] = 10;
      lineStart = o;
    }
    this.partial = o > lineStart ? out.slice(lineStart, o) : EMPTY;
    if (ends.length === 0) return null;
    // The ring keeps these bytes: do not let a few short lines pin a large buffer.
    const bytes = lineStart * 2 < out.length ? out.slice(0, lineStart) : out.subarray(0, lineStart);
    return { bytes, ends };
  }
}

/** `text` as lines (a daemon message, a line read back from the file): cut, CR-free, ended. */
export function linesOf(text: string): Lines {
  return new LineAssembler().push(encoder.encode(text), true) ?? { bytes: EMPTY, ends: [] };
}

/** The text of each line. */
export function lineTexts(lines: Lines): string[] {
  const texts = decoder.decode(lines.bytes).split("\n");
  texts.pop(); // after the last "\n"
  return texts;
}
