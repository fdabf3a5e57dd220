import { describe, expect, test } from "bun:test";
import { LineAssembler, lineTexts, linesOf, MAX_LINE_BYTES, type Lines } from "../../src/daemon/services/line-bytes.ts";
import { rng } from "../helpers/rng.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feed `chunks`, then the end; every line each push returned, checked for the invariants on the way. */
function assemble(chunks: Uint8Array[]): string[] {
  const a = new LineAssembler();
  const out: string[] = [];
  const take = (lines: Lines | null) => {
    if (!lines) return;
    // Each end is a "\n", the bytes end with the last one, and no line holds a CR before it.
    expect(lines.ends.length).toBeGreaterThan(0);
    expect(lines.ends.every((e) => lines.bytes[e] === 10)).toBe(true);
    expect(lines.ends.at(-1)).toBe(lines.bytes.length - 1);
    expect(new TextDecoder("utf-8", { fatal: true }).decode(lines.bytes)).toBeString();
    let start = 0;
    for (const e of lines.ends) {
      expect(e - start).toBeLessThanOrEqual(MAX_LINE_BYTES);
      start = e + 1;
    }
    out.push(...lineTexts(lines));
  };
  for (const c of chunks) take(a.push(c));
  take(a.push(new Uint8Array(0), true));
  return out;
}

describe("LineAssembler", () => {
  test("lines across reads, CRLF split between reads, a last line without newline", () => {
    expect(assemble([bytes("a\nb"), bytes("c\r"), bytes("\nd\r\n\ne")])).toEqual(["a", "bc", "d", "", "e"]);
  });

  test("a character split across reads arrives whole", () => {
    const smile = bytes("🙂"); // 4 bytes
    expect(assemble([bytes("x"), smile.subarray(0, 1), smile.subarray(1, 3), smile.subarray(3), bytes("y\n")])).toEqual(["x🙂y"]);
  });

  test("bytes that are not UTF-8 become U+FFFD, as TextDecoder makes them", () => {
    const bad = Uint8Array.from([0x61, 0xff, 0x62, 0x0a, 0xc3, 0x0a, 0xe2, 0x82]);
    expect(assemble([bad])).toEqual(["a\uFFFDb", "\uFFFD", "\uFFFD"]);
    // An unfinished character at a read's end is held back, and repaired only if the next read does not finish it.
    expect(assemble([Uint8Array.from([0x61, 0xe2, 0x82]), Uint8Array.from([0x41, 0x0a])])).toEqual(["a\uFFFDA"]);
  });

  test("long lines are cut at MAX_LINE_BYTES, never inside a character", () => {
    expect(assemble([bytes("y".repeat(MAX_LINE_BYTES * 2 + 5) + "\nz")])).toEqual(["y".repeat(MAX_LINE_BYTES), "y".repeat(MAX_LINE_BYTES), "yyyyy", "z"]);
    const euros = "€".repeat(MAX_LINE_BYTES); // 3 bytes each: a cut every 5461 characters
    const pieces = assemble([bytes(euros)]);
    expect(pieces.join("")).toBe(euros);
    expect(pieces.slice(0, -1).every((p) => p.length === Math.floor(MAX_LINE_BYTES / 3))).toBe(true);
    // An unfinished line is cut while it grows: it is never held without bound.
    const a = new LineAssembler();
    let got = 0;
    for (let i = 0; i < 10; i++) got += a.push(bytes("x".repeat(MAX_LINE_BYTES / 2)))?.ends.length ?? 0;
    expect(got).toBe(4); // the fifth is full and waits for its next byte, which decides whether it ends there
    expect(lineTexts(a.push(bytes("\n"))!)).toEqual(["x".repeat(MAX_LINE_BYTES)]);
  });

  test("CRLF right at the cap: no extra empty line, whether the CR and LF arrive together or apart", () => {
    const full = "x".repeat(MAX_LINE_BYTES);
    expect(assemble([bytes(`${full}\r\nnext\n`)])).toEqual([full, "next"]);
    expect(assemble([bytes(`${full}\r`), bytes("\nnext\n")])).toEqual([full, "next"]);
    expect(assemble([bytes(full), bytes("\r"), bytes("\n")])).toEqual([full]);
    // A CR past the cap that no LF follows starts the next line, so no line exceeds the cap.
    expect(assemble([bytes(`${full}\ry\n`)])).toEqual([full, "\ry"]);
    expect(assemble([bytes(`${full}\r`), bytes("y\n")])).toEqual([full, "\ry"]);
    expect(assemble([bytes(`${full}\r\r\n`)])).toEqual([full, "\r"]);
    expect(assemble([bytes(`${full}\r`)])).toEqual([full, "\r"]);
  });

  test("a byte per read: the same lines", () => {
    const text = `${"z".repeat(MAX_LINE_BYTES + 100)}\nab€\r\n🙂`;
    expect(assemble([...bytes(text)].map((b) => Uint8Array.of(b)))).toEqual(["z".repeat(MAX_LINE_BYTES), "z".repeat(100), "ab€", "🙂"]);
  });

  test("a byte order mark is text like any other", () => {
    expect(assemble([bytes("\uFEFFa\n\uFEFFb\n")])).toEqual(["\uFEFFa", "\uFEFFb"]);
    expect(assemble([Uint8Array.of(0xef, 0xbb, 0xbf, 0x61, 0xff, 0x0a)])).toEqual(["\uFEFFa\uFFFD"]);
  });

  test("random text in random reads: the same lines as decoding the whole and splitting", () => {
    const random = rng(20261127);
    const alphabet = ["a", "b", " ", "\n", "\r\n", "é", "€", "🙂", "語", "\n\n", "\r"];
    for (let round = 0; round < 200; round++) {
      let text = "";
      const length = Math.floor(random() * 400);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const all = bytes(text);
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < all.length; ) {
        const size = 1 + Math.floor(random() * 12);
        chunks.push(all.subarray(at, at + size));
        at += size;
      }
      // A CR goes with the LF after it; the last line has none (a CR there is text).
      const expected = text.split("\n").map((l, i, all) => (i < all.length - 1 && l.endsWith("\r") ? l.slice(0, -1) : l));
      if (expected.at(-1) === "") expected.pop();
      expect(assemble(chunks)).toEqual(expected);
    }
  });

  test("a read of whole lines is its own lines, not a copy; what follows its last newline waits for the next read", () => {
    const a = new LineAssembler();
    const chunk = bytes("one\ntwo\nthr");
    const lines = a.push(chunk)!;
    expect(lines.bytes.buffer).toBe(chunk.buffer);
    expect(lineTexts(lines)).toEqual(["one", "two"]);
    chunk.fill(0x21, 8); // the unfinished line was kept as a copy
    expect(lineTexts(a.push(bytes("ee\n"))!)).toEqual(["three"]);
    // A read that is mostly its unfinished line: the ring keeps a copy of the lines, not the whole read.
    const mostlyTail = bytes(`a\n${"x".repeat(100)}`);
    const few = new LineAssembler().push(mostlyTail)!;
    expect(lineTexts(few)).toEqual(["a"]);
    expect(few.bytes.buffer).not.toBe(mostlyTail.buffer);
    // Anything the plain lines do not cover is assembled as before (a copy): a CR, bad UTF-8.
    for (const odd of [bytes("a\r\nb\n"), Uint8Array.of(0x61, 0xff, 10)]) expect(new LineAssembler().push(odd)!.bytes.buffer).not.toBe(odd.buffer);
  });

  test("a read of whole lines ending in an unfinished line that repair makes longer than the cap loses nothing", () => {
    // 6000 bytes that are not UTF-8 become 18000 bytes of U+FFFD: more than a line holds.
    const read = Uint8Array.from([...bytes("ok\n"), ...new Array(6000).fill(0xff)]);
    const lines = assemble([read]);
    expect(lines[0]).toBe("ok");
    expect(lines.slice(1).join("")).toBe("\uFFFD".repeat(6000));
    expect(lines.length).toBe(3);
  });

  test("reads of whole lines: the same lines as reads that never are, up to and past the cap, with bytes that are not UTF-8", () => {
    const random = rng(20261128);
    const alphabet = ["a", "b", " ", "é", "€", "🙂", "語", "\n"];
    for (let round = 0; round < 100; round++) {
      const lines: string[] = [];
      for (let l = 0; l < 1 + Math.floor(random() * 20); l++) {
        const long = random() < 0.15;
        let line = long ? "x".repeat(MAX_LINE_BYTES - 6 + Math.floor(random() * 12)) : "";
        for (let i = 0; i < Math.floor(random() * 30); i++) line += alphabet[Math.floor(random() * (alphabet.length - 1))];
        lines.push(line);
      }
      const text = bytes(lines.map((l) => `${l}\n`).join("") + (random() < 0.5 ? "tail 🙂" : ""));
      // Bytes that are not UTF-8 here and there, and at times an unfinished last line of them that
      // repair (one byte → three of U+FFFD) makes longer than the cap.
      const bad = Array.from(text, (b) => (random() < 0.002 ? 0xff : b));
      const all = Uint8Array.from(random() < 0.2 ? [...bad, ...new Array(Math.floor(random() * 8000)).fill(0xff)] : bad);
      // Reads that end at a random line's end, or anywhere.
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < all.length; ) {
        let next = Math.min(all.length, at + 1 + Math.floor(random() * 40_000));
        if (random() < 0.7) next = Math.max(at + 1, all.lastIndexOf(10, next - 1) + 1);
        chunks.push(all.slice(at, next));
        at = next;
      }
      // The reference never has a read of whole lines: each line's first byte is a read of its own.
      const byLine: Uint8Array[] = [];
      for (let at = 0; at < all.length; ) {
        const next = all[at] === 10 ? at + 1 : all.indexOf(10, at) + 1 || all.length;
        byLine.push(all.slice(at, at + 1), all.slice(at + 1, next));
        at = next;
      }
      expect(assemble(chunks)).toEqual(assemble(byLine));
    }
  });

  test("linesOf: a message with newlines is several lines", () => {
    expect(lineTexts(linesOf("started pid 7: sh -c 'a\nb'"))).toEqual(["started pid 7: sh -c 'a", "b'"]);
  });
});
