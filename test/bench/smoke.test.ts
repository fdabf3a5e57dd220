import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killCarrying, ROOT } from "../helpers/env.ts";

/**
 * `npm run bench -- --quick` runs to the end and prints every row, so the
 * bench cannot rot unnoticed. No figure is compared with anything:
 * benchmarks are not timed tests, and a slow machine must not fail CI. The
 * bench's temporary directories go under a TMPDIR of this test's own, so
 * anything it started and left behind (a daemon, a service, a peer
 * supervisor) carries that directory in its environment and is killed by pid.
 */
const ROWS = [
  "ping round trip (median)",
  "pipelined pings, one connection",
  "adi --version",
  "adi daemon status, 5 services",
  "adi daemon services --json, 100 services",
  "list_services req/s, 100 services",
  "daemon cold start -> answering",
  "daemon RSS, 5 services",
  "of which anonymous (heap, stacks)",
  "5 services, after the status rows",
  "daemon RSS growth 5 -> 100 services",
  "adi daemon logs NAME (100 lines)",
  "adi daemon restart NAME (a sleep)",
  "restart after kill -9",
  "stop 10 services",
  "highest during 300 list_services",
  "log follow 100k lines/s for 1 s: supervisor RSS after",
  "log follow 100k lines/s for 1 s: lines lost",
  "log follow 100k lines/s for 1 s: supervisor CPU",
  "the same load again, same daemon",
];

test.skipIf(process.platform !== "linux")("the bench's quick run completes and prints every row", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "adi-bs-"));
  const env: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp };
  delete env.ADI_HOME;
  delete env.ADI_DAEMON_SOCKET;
  try {
    const proc = Bun.spawn([process.execPath, join(ROOT, "bench", "run.ts"), "--quick"], {
      cwd: ROOT,
      env,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 500_000,
      killSignal: "SIGKILL",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) console.error(out, err);
    expect(code).toBe(0);
    for (const row of ROWS) {
      const line = out.split("\n").find((l) => l.includes(row));
      expect(line, row).toBeDefined();
      // The adi column holds a figure (a number with its unit), never NaN.
      const adi = line!.trim().split(/\s{2,}/)[1]!;
      expect(adi, row).toMatch(/^[+]?[\d,.]+/);
      expect(adi, row).not.toContain("NaN");
    }
    // Nor is any other row's adi figure NaN (rows such as the floors leave the column empty).
    const table = out.slice(out.indexOf("figure"));
    for (const line of table.split("\n").slice(1)) expect(line.trim().split(/\s{2,}/)[1] ?? "", line).not.toContain("NaN");
  } finally {
    killCarrying(`TMPDIR=${tmp}`);
    rmSync(tmp, { recursive: true, force: true });
  }
}, 600_000);
