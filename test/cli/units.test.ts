import { describe, expect, test } from "bun:test";
import { LogStream, type LogLine } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { unexpectedWord, unknownFlag } from "../../src/cli/flags.ts";
import { envFlags } from "../../src/cli/daemon/start.ts";
import { LogPrinter, mergeByTime, parseSince } from "../../src/cli/daemon/log-format.ts";
import { colorEnabled, serviceColor, stripColor, table } from "../../src/cli/output.ts";

const line = (t: number, text: string, service = "web"): LogLine => ({ service, stream: LogStream.STDOUT, timeUnixMs: t, text }) as LogLine;

describe("--since", () => {
  const now = Date.parse("2026-06-01T12:00:00Z");
  test("durations and ISO times", () => {
    expect(parseSince("90s", now)).toBe(now - 90_000);
    expect(parseSince("10m", now)).toBe(now - 600_000);
    expect(parseSince("1.5h", now)).toBe(now - 5_400_000);
    expect(parseSince("2d", now)).toBe(now - 2 * 86_400_000);
    expect(parseSince("250ms", now)).toBe(now - 250);
    expect(parseSince("2026-01-31T12:00:00Z", now)).toBe(Date.parse("2026-01-31T12:00:00Z"));
    expect(parseSince("2026-01-31", now)).toBe(Date.parse("2026-01-31"));
  });
  test("the same answers as the RegExps it replaced (generated strings)", () => {
    // The patterns parseSince used; it scans instead (a RegExp costs a one-shot command ≈ 0.4 ms).
    const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
    const reference = (value: string): number | null => {
      const rel = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
      if (rel) return now - Number(rel[1]) * UNITS[rel[2]!]!;
      if (!/^\d{4}-\d\d-\d\d/.test(value.trim())) return null;
      const t = Date.parse(value.trim());
      return Number.isNaN(t) ? null : t;
    };
    const alphabet = ["0", "1", "2", "9", "12", "2026", ".", "-", "m", "s", "ms", "h", "d", "T", ":", "Z", " ", "x", "٣"];
    let seed = 5;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    for (let run = 0; run < 30_000; run++) {
      let value = "";
      for (let len = next(9); len > 0; len--) value += alphabet[next(alphabet.length)];
      expect({ value, got: parseSince(value, now) }).toEqual({ value, got: reference(value) });
    }
    for (const value of ["2026-01-31", "2026-01-31T12:00:00Z", " 2026-01-31 ", "2026-01-3", "2026-1-31", "20261-01-31", "2026-01-311", "1.h", "1.5.5h", "5toString", "5__proto__", "05m", "1e3s", ".5h", "5 m"]) {
      expect({ value, got: parseSince(value, now) }).toEqual({ value, got: reference(value) });
    }
  });
  test("anything else is refused", () => {
    for (const bad of ["", "10", "10x", "yesterday", "-5m", "2026-13-45"]) expect(parseSince(bad, now)).toBeNull();
  });
});

describe("merging backlogs", () => {
  test("merge by time keeps each service's order", () => {
    const merged = mergeByTime([[line(1, "a1", "a"), line(5, "a2", "a")], [line(3, "b1", "b"), line(5, "b2", "b")]]);
    expect(merged.map((l) => l.text)).toEqual(["a1", "b1", "a2", "b2"]);
    // One service's lines keep the order they were read in, even after the wall clock stepped back.
    const one = [line(1, "x"), line(5, "y"), line(2, "z")];
    expect(mergeByTime([one]).map((l) => l.text)).toEqual(["x", "y", "z"]);
  });
  test("each line's prefix changes with its time, service, stream and the name width", () => {
    const printed: string[] = [];
    const printer = new LogPrinter(false, ["web"], (text) => printed.push(text));
    const err = (t: number, text: string, service = "web") => ({ ...line(t, text, service), stream: LogStream.STDERR }) as LogLine;
    const at = Date.UTC(2026, 10, 27, 12, 0, 0, 5);
    for (const l of [line(at, "a"), line(at, "b"), line(at + 1, "c"), err(at + 1, "d"), err(at + 1, "e", "db")]) printer.print(l);
    printer.widen("worker");
    printer.print(err(at + 1, "f", "db"));
    const json = new LogPrinter(true, ["web"], (text) => printed.push(text));
    json.print(line(at, "g"));
    json.print(line(at + 1000, "h"));
    expect(printed.map(stripColor)).toEqual([
      "2026-11-27T12:00:00.005Z web out a",
      "2026-11-27T12:00:00.005Z web out b",
      "2026-11-27T12:00:00.006Z web out c",
      "2026-11-27T12:00:00.006Z web err d",
      "2026-11-27T12:00:00.006Z db  err e",
      "2026-11-27T12:00:00.006Z db     err f",
      '{"time":"2026-11-27T12:00:00.005Z","service":"web","stream":"out","text":"g"}',
      '{"time":"2026-11-27T12:00:01.005Z","service":"web","stream":"out","text":"h"}',
    ]);
  });
  test("a service's second `started pid N` line gets a restart separator, padded names", () => {
    const printed: string[] = [];
    const printer = new LogPrinter(false, ["web", "db"], (text) => printed.push(text));
    const system = (t: number, text: string, service = "web") => ({ ...line(t, text, service), stream: LogStream.SYSTEM }) as LogLine;
    for (const l of [system(1, "started pid 10: sleep 1"), line(2, "hi", "db"), system(3, "started pid: no number"), system(3, "started pid none"), system(4, "started pid 11: sleep 1"), system(5, "started pid 12", "db")]) printer.print(l);
    expect(printed.map(stripColor).map((p) => p.replace(/^\d{4}-\S+ /, ""))).toEqual([
      "web adi started pid 10: sleep 1",
      "db  out hi",
      "web adi started pid: no number",
      "web adi started pid none",
      "──── web restarted (pid 11) ────",
      "web adi started pid 11: sleep 1",
      "──── db restarted (pid 12) ────",
      "db  adi started pid 12",
    ]);
  });
});

describe("unknown options", () => {
  const args = {
    name: { type: "positional" as const },
    lines: { type: "string" as const, alias: "n" },
    follow: { type: "boolean" as const, alias: "f" },
    restart: { type: "boolean" as const, default: true },
  };
  test("declared options, aliases, --no-X, values and --help pass", () => {
    expect(unknownFlag(["web", "-n", "5", "-f", "--lines=3", "--no-restart", "--help", "-n5", "-fn", "7"], args)).toBeNull();
    expect(unknownFlag(["-n", "-3"], args)).toBeNull(); // a value is not checked as an option
  });
  test("the first unknown one is named", () => {
    expect(unknownFlag(["web", "--jsno"], args)).toBe("--jsno");
    expect(unknownFlag(["-x"], args)).toBe("-x");
    expect(unknownFlag(["-fx"], args)).toBe("-x");
    expect(unknownFlag(["--no-lines"], args)).toBe("--no-lines");
  });
  test("a word that is no option, for a command without a positional argument", () => {
    const { name: _, ...noName } = args;
    expect(unexpectedWord(["-n", "web", "-f"], noName)).toBeNull(); // web is -n's value
    expect(unexpectedWord(["-f", "web"], noName)).toBe("web");
    expect(unexpectedWord(["--lines=3", "-"], noName)).toBe("-");
    expect(unexpectedWord(["web"], args)).toBeNull(); // it takes names
  });
});

describe("--env", () => {
  test("every form citty's parser lets through is read, in order, the last of a key winning", () => {
    expect(envFlags(["web", "--env", "A=1", "--env=B=2", "-e", "C=3", "-eD=4", "-e=E=5", "-eA=6"])).toEqual({ A: "6", B: "2", C: "3", D: "4", E: "5" });
    expect(envFlags(["web", "-e=X==y"])).toEqual({ X: "=y" });
  });
  test("a pair without KEY= is a usage error", () => {
    for (const words of [["-eFOO"], ["-e="], ["--env"], ["-e", "=v"]]) expect(() => envFlags(words)).toThrow(/--env expects KEY=VALUE/);
  });
});

describe("colour rules", () => {
  test("NO_COLOR wins, FORCE_COLOR forces, else only a TTY", () => {
    expect(colorEnabled(1, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(colorEnabled(1, { FORCE_COLOR: "1" })).toBe(true);
    expect(colorEnabled(1, { NO_COLOR: "" , FORCE_COLOR: "1" })).toBe(true);
  });
  test("a service keeps its colour, and names spread over several colours", () => {
    expect(serviceColor("web")).toBe(serviceColor("web"));
    const colors = new Set(["web", "api", "db", "worker", "cache", "proxy", "hive", "indexer"].map(serviceColor));
    expect(colors.size).toBeGreaterThan(3);
    expect(colors.has("red" as never)).toBe(false);
  });
  test("tables align by visible width, colour codes not counted", () => {
    const t = table(["NAME", "STATE"], [["\x1b[32ma-very-long-service-name\x1b[0m", "running"], ["x", "failed"]]);
    const lines = stripColor(t).split("\n");
    expect(lines.map((l) => l.search(/STATE|running|failed/))).toEqual([26, 26, 26]);
  });
  test("tables: the last cell unpadded, trailing spaces trimmed, a short row left short", () => {
    expect(table(["A", "BB", "C"], [["xyz", "", "1"], ["", "b"], ["q", "\x1b[31mr\x1b[0m", ""]])).toBe(
      ["A    BB  C", "xyz      1", "     b", "q    \x1b[31mr\x1b[0m"].join("\n"),
    );
  });
  test("stripColor removes exactly what /\\x1b\\[[0-9;]*m/g matches (generated strings)", () => {
    // Written without a RegExp (output.ts: a one-shot command should not compile one); the pattern is the reference.
    const alphabet = ["\x1b[", "\x1b[", "\x1b", "[", "m", "m", "0", "39", ";", "a", "é", "\n", ":"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let n = 0; n < 20_000; n++) {
      let text = "";
      for (let len = Math.floor(next() * 14); len > 0; len--) text += alphabet[Math.floor(next() * alphabet.length)];
      expect(stripColor(text)).toBe(text.replace(/\x1b\[[0-9;]*m/g, ""));
    }
    for (const text of ["", "plain", "\x1b[m", "\x1b[1;32mok\x1b[0m", "\x1b[\x1b[0m", "\x1b[12", "a\x1b[;;mb", "\x1b\x1b[0mx", "\x1b[0m\x1b[1mx"]) {
      expect(stripColor(text)).toBe(text.replace(/\x1b\[[0-9;]*m/g, ""));
    }
  });
});
