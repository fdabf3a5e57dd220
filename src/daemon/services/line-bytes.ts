import { isUtf8 } from "node:buffer";

/** Longer lines are cut into pieces of at most this many bytes, between characters (never buffered without bound). */
export const MAX_LINE_BYTES = 16 * 1024;

/**
 * Complete lines: valid UTF-8, each followed by one "\n", at most
 * MAX_LINE_BYTES. The CR of a CRLF is removed; any other CR is text.
 */
export interface Lines {
  bytes: Uint8Array;
  /** The index in `bytes` of each line's "\n" (= where its text ends). */
  ends: readonly number[];
}

const EMPTY = new Uint8Array(0);
/**
 * Where lines are assembled, shared by every assembler (push is synchronous
 * and hands out copies, or views of the caller's read): one copy of a read per read, not three fresh
 * buffers that a flood turns into GC-driven RSS swings. Reads that need more
 * than SCRATCH_MAX get a buffer of their own.
 */
const SCRATCH_MAX = 256 * 1024;
let scratch = new Uint8Array(64 * 1024);
// Not fatal: an invalid sequence becomes U+FFFD. ignoreBOM: a U+FEFF the service printed is text like any other.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const encoder = new TextEncoder();

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
  /**
   * The unfinished line: scanned, cut and repaired already, except for an
   * unfinished last character (held back until its last byte arrives). It is
   * copied, not scanned again, on each read, so a service writing a byte at a
   * time costs a memcpy of at most 16 KiB per read, not a JS loop over it.
   */
  private partial: Uint8Array = EMPTY;

  /**
   * The lines `chunk` completes, or null; `end`: the stream is over and an
   * unfinished line counts as a line. The lines may be a view of `chunk`:
   * the caller must not change it afterwards.
   */
  push(chunk: Uint8Array, end = false): Lines | null {
    if (this.partial.length === 0 && !end) {
      const lines = this.ownLines(chunk);
      if (lines) return lines;
    }
    return this.assemble(chunk, end);
  }

  /**
   * The common case, without copying: a read that starts a line, holds no
   * CR and only valid UTF-8, and whose lines are short of the cap, is its own
   * lines up to its last "\n"; only the rest becomes the unfinished line. A
   * fresh buffer per read for the ring was part of the allocation churn that
   * cost the daemon CPU under 100k lines/s (bench/README.md). Null for
   * anything else.
   */
  private ownLines(chunk: Uint8Array): Lines | null {
    const last = chunk.lastIndexOf(10);
    if (last < 0 || chunk.length - last > MAX_LINE_BYTES - 4 || chunk.indexOf(13) >= 0) return null;
    // The unfinished line too: repairing it could make it longer than the cap, and cut it into a line.
    if (!isUtf8(chunk.subarray(0, chunk.length - unfinishedTail(chunk)))) return null;
    const ends: number[] = [];
    let lineStart = 0;
    for (let i = 0; i <= last; i++) {
      if (chunk[i] !== 10) continue;
      // Below the cap no line is ever cut: the same lines as assemble() finds.
      if (i - lineStart > MAX_LINE_BYTES - 4) return null;
      ends.push(i);
      lineStart = i + 1;
    }
    if (last + 1 < chunk.length) this.assemble(chunk.subarray(last + 1), false); // only keeps it: no "\n", valid, under the cap
    // The ring keeps the lines: a view, unless most of the read is the unfinished line (a copy then).
    return { bytes: (last + 1) * 2 >= chunk.length ? chunk.subarray(0, last + 1) : chunk.slice(0, last + 1), ends };
  }

  private assemble(chunk: Uint8Array, end: boolean): Lines | null {
    const old = this.partial;
    // The partial's bytes up to `kept` are scanned already; a held-back character is scanned again
    // with the new bytes (a copy of the chunk only then: when a character straddles two reads).
    const kept = old.length - unfinishedTail(old);
    let input = kept === old.length ? chunk : Buffer.concat([old.subarray(kept), chunk]);
    const whole = input.length - (end ? 0 : unfinishedTail(input));
    if (whole > 0 && !isUtf8(input.subarray(0, whole))) {
      const repaired = encoder.encode(decoder.decode(input.subarray(0, whole)));
      input = whole === input.length ? repaired : Buffer.concat([repaired, input.subarray(whole)]);
    }
    // Room for every byte, a "\n" per cut, and the last line's "\n" at the end.
    const total = kept + input.length;
    const need = total + Math.ceil(total / (MAX_LINE_BYTES - 4)) + 2;
    const out = need <= scratch.length ? scratch : need > SCRATCH_MAX ? new Uint8Array(need) : (scratch = new Uint8Array(need));
    // The partial's scanned bytes: no newline in them, within the cap (or one over it: a CR that may start a CRLF).
    out.set(old.subarray(0, kept), 0);
    const ends: number[] = [];
    let o = kept;
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
      // Near the cap, cut before a character that would not fit (never inside one). A CR
      // that may be the first half of a CRLF is let past the cap: the LF then removes it.
      if (o - lineStart > MAX_LINE_BYTES - 4 && (b & 0xc0) !== 0x80) {
        const size = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        const maybeCrlf = b === 13 && o - lineStart <= MAX_LINE_BYTES && (i + 1 < input.length ? input[i + 1] === 10 : !end);
        if (o - lineStart + size > MAX_LINE_BYTES && !maybeCrlf) {
          // A CR let past the cap that was not followed by LF moves to the next line.
          const carried = o - lineStart > MAX_LINE_BYTES;
          if (carried) o--;
          ends.push(o);
          out[o++] = 10;
          lineStart = o;
          if (carried) out[o++] = 13;
        }
      }
      out[o++] = b;
    }
    if (end && o > lineStart) {
      if (o - lineStart > MAX_LINE_BYTES) {
        // The stream ended on a CR let past the cap: it is a line of its own.
        ends.push(o - 1);
        out[o] = 13;
        out[o - 1] = 10;
        o++;
        lineStart = o - 1;
      }
      ends.push(o);
      out[o++] = 10;
      lineStart = o;
    }
    this.partial = o > lineStart ? out.slice(lineStart, o) : EMPTY;
    if (ends.length === 0) return null;
    // The lines are the caller's to keep (the ring does): a copy out of the scratch buffer, or of a
    // one-off buffer that they would leave mostly unused.
    const bytes = out !== scratch && lineStart * 2 >= out.length ? out.subarray(0, lineStart) : out.slice(0, lineStart);
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
