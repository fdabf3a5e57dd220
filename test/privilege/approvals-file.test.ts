import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeApprovals } from "../../src/daemon/privilege/approvals.ts";

// writeApprovals wrote its temporary file with one write(2) and renamed it over the approvals whatever
// that write returned: on a full disk the user's approvals became a truncated file, and every sudo_run failed.
test.skipIf(!Bun.which("prlimit"))("writeApprovals never replaces the approvals with a short write (a full disk): the old file stays", () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-approvals-"));
  try {
    const path = join(dir, "approvals.json");
    const approval = (sha: string, patterns: string[]) => ({
      sha256: sha,
      decidedAt: "2026-11-28T00:00:00.000Z",
      patterns: patterns.map((pattern) => ({ pattern, path: "/usr/sbin/iptables", approved: true })),
    });
    writeApprovals(path, { version: 1, plugins: { old: approval("a".repeat(64), ["iptables -L"]) } });
    const before = readFileSync(path, "utf8");
    const big = { version: 1, plugins: { big: approval("b".repeat(64), Array.from({ length: 200 }, (_, i) => `iptables -t nat -A rule${i}`)) } };
    // A file size limit of 1,000 bytes: the kernel takes the first 1,000 bytes of a larger write and
    // refuses the rest (EFBIG), as a filling disk does with ENOSPC.
    const script = `import { writeApprovals } from ${JSON.stringify(join(import.meta.dir, "../../src/daemon/privilege/approvals.ts"))};
      process.on("SIGXFSZ", () => {});
      try { writeApprovals(${JSON.stringify(path)}, ${JSON.stringify(big)}); console.log("written"); }
      catch (e) { console.log("refused " + e.message); }`;
    const child = Bun.spawnSync(["prlimit", "--fsize=1000", process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(child.stdout.toString()).toStartWith("refused EFBIG");
    expect(readFileSync(path, "utf8")).toBe(before);
    expect(readdirSync(dir)).toEqual(["approvals.json"]);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
