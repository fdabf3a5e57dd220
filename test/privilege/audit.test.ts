import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { capArgv, MAX_AUDIT_ARGS, MAX_AUDIT_ARGV_BYTES } from "../../src/daemon/privilege/audit.ts";
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
});
