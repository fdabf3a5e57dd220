import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditRecord, capArgv, createAuditLog, MAX_AUDIT_ARGS, MAX_AUDIT_ARGV_BYTES } from "../../src/daemon/privilege/audit.ts";
import { daemonWithoutIsolation } from "./fixtures.ts";

const utf8Bytes = (argv: string[]) => argv.reduce((n, a) => n + new TextEncoder().encode(a).length, 0);

describe("capArgv", () => {
  test("the limits are 32 arguments and 4096 bytes", () => {
    expect(MAX_AUDIT_ARGS).toBe(32);
    expect(MAX_AUDIT_ARGV_BYTES).toBe(4096);
  });

  test("exactly 32 arguments are kept whole; a 33rd is dropped and flagged", () => {
    const argv = Array.from({ length: 32 }, (_, i) => `a${i}`);
    expect(capArgv(argv)).toEqual({ argv, truncated: false });
    expect(capArgv([...argv, "extra"])).toEqual({ argv, truncated: true });
    // Empty arguments cost no bytes but still count.
    const empty = Array.from({ length: 33 }, () => "");
    expect(capArgv(empty)).toEqual({ argv: empty.slice(0, 32), truncated: true });
  });

  test("exactly 4096 bytes are kept whole; one more byte is cut and flagged", () => {
    const exact = ["x".repeat(4000), "y".repeat(96)];
    expect(capArgv(exact)).toEqual({ argv: exact, truncated: false });
    expect(capArgv([...exact, ""])).toEqual({ argv: [...exact, ""], truncated: false });
    expect(capArgv(["x".repeat(4000), "y".repeat(97)])).toEqual({ argv: ["x".repeat(4000), "y".repeat(96)], truncated: true });
    expect(capArgv([...exact, "z"])).toEqual({ argv: exact, truncated: true });
  });

  test("a cut falls between characters, never inside one", () => {
    // 2-byte é fits exactly at the limit; the 3-byte € after it does not.
    expect(capArgv(["a".repeat(4094), "é€"])).toEqual({ argv: ["a".repeat(4094), "é"], truncated: true });
    // A 4-byte character with 3 bytes left: nothing of that argument is kept.
    expect(capArgv(["a".repeat(4093), "😀"])).toEqual({ argv: ["a".repeat(4093)], truncated: true });
    expect(capArgv(["a".repeat(4092), "😀"])).toEqual({ argv: ["a".repeat(4092), "😀"], truncated: false });
    // One long argument of 3-byte characters: 1365 of them make 4095 bytes.
    const cut = capArgv(["€".repeat(2000)]);
    expect(cut).toEqual({ argv: ["€".repeat(1365)], truncated: true });
    expect(utf8Bytes(cut.argv)).toBe(4095);
  });

  test("limits can be given; what is kept is always a prefix of the argv", () => {
    expect(capArgv(["ab", "cd", "ef"], 2, 100)).toEqual({ argv: ["ab", "cd"], truncated: true });
    expect(capArgv(["ab", "cd", "ef"], 10, 3)).toEqual({ argv: ["ab", "c"], truncated: true });
    expect(capArgv([], 0, 0)).toEqual({ argv: [], truncated: false });
  });
});

describe("the audit log of a running daemon", () => {
  const daemonOf = daemonWithoutIsolation();

  test("a denied request with ~1 MB of arguments is one small line, argv capped and flagged", async () => {
    const daemon = daemonOf();
    const client = daemon.client({ timeoutMs: 20_000 });
    try {
      const huge = Array.from({ length: 1000 }, () => "A".repeat(1000));
      for (const [command, args] of [["iptables", huge], ["é".repeat(500_000), ["-L"]], ["id", ["-u"]]] as const) {
        const r = await client.sudoRun(command, [...args], "big");
        expect(r.allowed).toBe(false);
      }
    } finally {
      client.close();
    }
    const raw = readFileSync(join(daemon.home, "logs", "audit.log"), "utf8");
    const lines = raw.split("\n").slice(0, -1);
    expect(lines.length).toBe(3);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThan(MAX_AUDIT_ARGV_BYTES + 1024);
    const [many, longCommand, small] = lines.map((l) => JSON.parse(l));
    // "iptables" (8 bytes) and four whole arguments leave 88 bytes of the fifth.
    expect(many.argv).toEqual(["iptables", ...Array.from({ length: 4 }, () => "A".repeat(1000)), "A".repeat(88)]);
    expect(many.argv_truncated).toBe(true);
    expect(longCommand.argv).toEqual(["é".repeat(2048)]);
    expect(longCommand.argv_truncated).toBe(true);
    expect(small.argv).toEqual(["id", "-u"]);
    expect(small.argv_truncated).toBe(false);
    for (const r of [many, longCommand, small]) expect(r.decision).toBe("denied");
  });

  test("a flood of denials is counted, not written one by one: every request is accounted for, in far fewer lines (audit and daemon log)", async () => {
    const daemon = daemonOf();
    const auditPath = join(daemon.home, "logs", "audit.log");
    const before = readFileSync(auditPath, "utf8").split("\n").length - 1;
    const deniedLines = () => readFileSync(join(daemon.home, "logs", "daemon.log"), "utf8").split("sudo_run denied").length - 1;
    const daemonLogBefore = deniedLines();
    const client = daemon.client({ timeoutMs: 20_000 });
    const flood = 2_000;
    try {
      const results = await Promise.all(Array.from({ length: flood }, (_, i) => client.sudoRun("iptables", ["-L", String(i)], "flood")));
      expect(results.every((r) => !r.allowed)).toBe(true);
    } finally {
      client.close();
    }
    // The count of what was left out is written a second after the first left out.
    await Bun.sleep(1_500);
    const records = readFileSync(auditPath, "utf8")
      .split("\n")
      .slice(before, -1)
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(records.reduce((n, r) => n + (r.suppressed ?? 1), 0)).toBe(flood);
    expect(records.length).toBeLessThan(flood / 4);
    expect(records.at(-1)!.suppressed).toBeGreaterThan(0);
    expect(deniedLines() - daemonLogBefore).toBeLessThan(flood / 4);
  });
});

describe("the audit log's bounds", () => {
  const record = (plugin: string, decision: "allowed" | "denied", n: number): AuditRecord => ({
    plugin,
    service: plugin,
    peer_uid: 1000,
    peer_pid: 4242,
    argv: ["rm", `n${n}`],
    argv_truncated: false,
    matched_pattern: null,
    resolved_path: null,
    decision,
    deny_reason: decision === "denied" ? "no approved pattern" : null,
    reason: "",
    reason_truncated: false,
    exit_code: null,
    signal: null,
    timed_out: false,
    duration_ms: null,
  });
  const lines = (path: string) =>
    readFileSync(path, "utf8")
      .split("\n")
      .slice(0, -1)
      .map((l) => JSON.parse(l) as AuditRecord);

  test("a caller's denials are written up to the burst, then counted; the count reaches the file; allowed runs and other callers are untouched", () => {
    const dir = mkdtempSync(join(tmpdir(), "adi-audit-"));
    try {
      const path = join(dir, "audit.log");
      let clock = 0;
      const problems: (Error | null)[] = [];
      const log = createAuditLog(path, (e) => problems.push(e), { maxBytes: 1 << 20, files: 2 }, { burst: 5, perSecond: 2 }, () => clock);
      const written: boolean[] = [];
      for (let i = 0; i < 50; i++) written.push(log.write(record("flood", "denied", i)));
      expect(written.filter(Boolean).length).toBe(5);
      expect(log.write(record("flood", "allowed", 100))).toBe(true);
      expect(log.write(record("other", "denied", 200))).toBe(true);
      let seen = lines(path);
      expect(seen.map((r) => r.argv[1])).toEqual(["n0", "n1", "n2", "n3", "n4", "n100", "n200"]);
      // One second later two tokens are back: the next denial is written, standing for the 45 counted and itself.
      clock = 1000;
      expect(log.write(record("flood", "denied", 50))).toBe(true);
      seen = lines(path);
      expect(seen.at(-1)).toMatchObject({ plugin: "flood", argv: ["rm", "n50"], suppressed: 46 });
      // Counted again, then written by flush (shutdown) with the last request's argv.
      expect(log.write(record("flood", "denied", 51))).toBe(true);
      expect(log.write(record("flood", "denied", 52))).toBe(false);
      expect(log.write(record("flood", "denied", 53))).toBe(false);
      log.flush();
      seen = lines(path);
      expect(seen.at(-1)).toMatchObject({ argv: ["rm", "n53"], suppressed: 2 });
      expect(seen.length).toBe(10);
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the file rotates by size: it and its older copies stay within the limit", () => {
    const dir = mkdtempSync(join(tmpdir(), "adi-audit-"));
    try {
      const path = join(dir, "audit.log");
      const log = createAuditLog(path, () => {}, { maxBytes: 4_000, files: 3 });
      for (let i = 0; i < 200; i++) log.write(record("p", "allowed", i));
      for (const file of [path, `${path}.1`, `${path}.2`]) expect(statSync(file).size).toBeLessThanOrEqual(4_000);
      expect(existsSync(`${path}.3`)).toBe(false);
      expect(lines(path).at(-1)!.argv).toEqual(["rm", "n199"]);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
