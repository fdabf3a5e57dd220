import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogStream } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { lineTexts, MAX_LINE_BYTES } from "../../src/daemon/services/line-bytes.ts";
import { ServiceLog, type LogBatch } from "../../src/daemon/services/service-log.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "adi-l-"));
  dirs.push(d);
  return d;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe("service log", () => {
  test("lines: UTF-8 split across reads, CRLF, a last line without newline, long lines cut", async () => {
    const log = new ServiceLog("svc", join(tmp(), "svc.log"), { maxBytes: 1 << 20, files: 2 }, () => {});
    const euro = bytes("€"); // 3 bytes
    const long = "y".repeat(MAX_LINE_BYTES + 10);
    await log.drain(
      streamOf([bytes("h"), euro.subarray(0, 1), euro.subarray(1), bytes("llo\r\nsecond\n"), bytes(long.slice(0, 100)), bytes(`${long.slice(100)}\ntail`)]),
      LogStream.STDOUT,
    );
    const texts = log.tail(10).map((l) => l.text);
    expect(texts).toEqual(["h€llo", "second", "y".repeat(MAX_LINE_BYTES), "y".repeat(10), "tail"]);
    expect(log.tail(10).every((l) => l.stream === LogStream.STDOUT && l.service === "svc")).toBe(true);
  });

  test("the ring keeps the last N lines; followers get batches in order until the log closes", async () => {
    const log = new ServiceLog("svc", join(tmp(), "svc.log"), { maxBytes: 1 << 20, files: 2 }, () => {}, 3);
    const seen: string[] = [];
    let endedWith = "";
    log.follow((batch: LogBatch) => seen.push(...lineTexts(batch)), (reason) => (endedWith = reason));
    await log.drain(streamOf([bytes("1\n2\n3\n"), bytes("4\n5\n")]), LogStream.STDERR);
    log.system("note");
    expect(log.tail(100).map((l) => l.text)).toEqual(["4", "5", "note"]);
    expect(log.tail(1).map((l) => l.stream)).toEqual([LogStream.SYSTEM]);
    expect(seen).toEqual(["1", "2", "3", "4", "5", "note"]);
    log.close("service removed");
    expect(endedWith).toBe("service removed");
    expect(log.followers).toBe(0);
  });

  test("the file rotates at its cap, keeps `files` files, and refills a new ring", async () => {
    const dir = tmp();
    const path = join(dir, "svc.log");
    const log = new ServiceLog("svc", path, { maxBytes: 4096, files: 3 }, () => {});
    for (let i = 0; i < 200; i++) log.system(`line number ${i}`);
    log.close("done");
    for (const f of [path, `${path}.1`, `${path}.2`]) {
      expect(statSync(f).size).toBeLessThanOrEqual(4096);
      expect(statSync(f).mode & 0o777).toBe(0o600);
    }
    expect(existsSync(`${path}.3`)).toBe(false);
    expect(readFileSync(path, "utf8")).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z adi line number \d+\n/);
    expect(readFileSync(path, "utf8").trimEnd().endsWith("adi line number 199")).toBe(true);

    const again = new ServiceLog("svc", path, { maxBytes: 4096, files: 3 }, () => {});
    const tail = again.tail(2);
    expect(tail.map((l) => [l.stream, l.text])).toEqual([
      [LogStream.SYSTEM, "line number 198"],
      [LogStream.SYSTEM, "line number 199"],
    ]);
    expect(tail[0]!.timeUnixMs).toBeGreaterThan(Date.now() - 60_000);
    again.close("done");
  });

  test("a read larger than the cap is split at line ends across the files: none past the cap, no line lost or cut; a line longer than a file goes alone", async () => {
    const path = join(tmp(), "svc.log");
    const log = new ServiceLog("svc", path, { maxBytes: 4096, files: 20 }, () => {});
    const lines = Array.from({ length: 400 }, (_, i) => `line ${i} ${"x".repeat(i % 30)}`);
    const long = "L".repeat(5_000);
    await log.drain(streamOf([bytes(`${lines.slice(0, 200).join("\n")}\n${long}\n${lines.slice(200).join("\n")}\n`)]), LogStream.STDOUT);
    log.close("done");
    const files = [path, ...Array.from({ length: 19 }, (_, i) => `${path}.${i + 1}`)].filter((f) => existsSync(f)).reverse();
    const texts: string[] = [];
    for (const f of files) {
      const content = readFileSync(f, "utf8");
      expect(content.endsWith("\n")).toBe(true);
      const fileLines = content.trimEnd().split("\n");
      if (fileLines.some((l) => l.endsWith(long))) expect(fileLines).toHaveLength(1);
      else expect(statSync(f).size).toBeLessThanOrEqual(4096);
      for (const l of fileLines) texts.push(l.replace(/^\S+ out /, ""));
    }
    expect(texts).toEqual([...lines.slice(0, 200), long, ...lines.slice(200)]);
  });

  test("a file that ends in half a line (a write cut short by a full disk or a crash) gets its newline before the next line", async () => {
    const path = join(tmp(), "svc.log");
    writeFileSync(path, "2026-11-28T00:00:00.000Z out cut sh", { mode: 0o600 });
    const log = new ServiceLog("svc", path, { maxBytes: 1 << 20, files: 2 }, () => {});
    log.system("next");
    log.close("done");
    const content = readFileSync(path, "utf8").split("\n");
    expect(content[0]).toBe("2026-11-28T00:00:00.000Z out cut sh");
    expect(content[1]).toMatch(/^\S+ adi next$/);
  });

  test("a read larger than the file buffer is written whole and in order (in several writes)", async () => {
    const path = join(tmp(), "svc.log");
    const log = new ServiceLog("svc", path, { maxBytes: 64 << 20, files: 2 }, () => {});
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(i % 40)}`);
    await log.drain(streamOf([bytes(`${lines.join("\n")}\n`)]), LogStream.STDOUT);
    log.close("done");
    const file = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(file).toHaveLength(lines.length);
    expect(file.every((l, i) => /^\d{4}-\d\d-\d\dT[\d:.]+Z out /.test(l) && l.endsWith(` ${lines[i]}`))).toBe(true);
  });

  test("empty lines, CRLF and a CR inside a line survive a daemon restart (the ring refilled from the file)", async () => {
    const path = join(tmp(), "svc.log");
    const log = new ServiceLog("svc", path, { maxBytes: 1 << 20, files: 2 }, () => {});
    await log.drain(streamOf([bytes("a\r\n\n"), bytes("\nb\n10%\r20%\n")]), LogStream.STDOUT);
    await log.drain(streamOf([bytes("\n")]), LogStream.STDERR);
    const before = log.tail(10).map((l) => [l.stream, l.text]);
    expect(before).toEqual([
      [LogStream.STDOUT, "a"],
      [LogStream.STDOUT, ""],
      [LogStream.STDOUT, ""],
      [LogStream.STDOUT, "b"],
      [LogStream.STDOUT, "10%\r20%"],
      [LogStream.STDERR, ""],
    ]);
    log.close("done");
    expect(new ServiceLog("svc", path, { maxBytes: 1 << 20, files: 2 }, () => {}).tail(10).map((l) => [l.stream, l.text])).toEqual(before);
  });

  test("files = 1: the one file starts over at its cap, even after someone deleted it", async () => {
    const dir = tmp();
    const path = join(dir, "svc.log");
    const problems: (string | null)[] = [];
    const log = new ServiceLog("svc", path, { maxBytes: 4096, files: 1 }, (p) => problems.push(p));
    for (let i = 0; i < 100; i++) log.system(`line number ${i}`);
    expect(statSync(path).size).toBeLessThanOrEqual(4096);
    rmSync(path);
    for (let i = 100; i < 200; i++) log.system(`line number ${i}`);
    log.close("done");
    expect(problems).toEqual([]);
    expect(existsSync(`${path}.1`)).toBe(false);
    expect(readFileSync(path, "utf8").trimEnd().endsWith("adi line number 199")).toBe(true);
  });

  test("an unwritable file is reported once and lines stay in memory", async () => {
    const problems: (string | null)[] = [];
    const log = new ServiceLog("svc", join(tmp(), "missing-dir", "svc.log"), { maxBytes: 4096, files: 2 }, (p) => problems.push(p));
    log.system("a");
    log.system("b");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("is not writable");
    expect(log.tail(5).map((l) => l.text)).toEqual(["a", "b"]);
    log.close("done");
  });
});
