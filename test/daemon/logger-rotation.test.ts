import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../src/daemon/logger.ts";
import { RotatingLogFile } from "../../src/daemon/services/log-file.ts";
import { tempHome } from "../helpers/env.ts";

// The daemon log grew without bound: with isolation on, any local user could fill the owner's disk
// through it (each refused connection is a line). It now rotates by size, as service logs do.

test("the daemon log rotates by size: daemon.log, .1 and .2, none past the limit, the newest line last", () => {
  const t = tempHome();
  try {
    mkdirSync(t.home, { recursive: true, mode: 0o700 });
    const path = join(t.home, "daemon.log");
    const logger = createLogger(path, "info", () => {}, { maxBytes: 1_000, files: 3 });
    for (let i = 0; i < 200; i++) logger.warn("peer refused", { n: i });
    logger.close();
    for (const file of [path, `${path}.1`, `${path}.2`]) {
      expect(existsSync(file), file).toBe(true);
      expect(statSync(file).size, file).toBeLessThanOrEqual(1_000);
    }
    expect(existsSync(`${path}.3`)).toBe(false);
    expect(readFileSync(path, "utf8").trimEnd().split("\n").at(-1)).toEndWith("peer refused n=199");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  } finally {
    t.cleanup();
  }
});

test("the limit counts bytes, not characters: lines of two-byte characters keep each file within it", () => {
  const t = tempHome();
  try {
    mkdirSync(t.home, { recursive: true, mode: 0o700 });
    const path = join(t.home, "daemon.log");
    const logger = createLogger(path, "info", () => {}, { maxBytes: 1_000, files: 2 });
    for (let i = 0; i < 50; i++) logger.warn("é".repeat(300), { n: i });
    logger.close();
    for (const file of [path, `${path}.1`]) expect(statSync(file).size, file).toBeLessThanOrEqual(1_000);
  } finally {
    t.cleanup();
  }
});

test("a log that cannot be written is reported once, retried after SIGHUP's reopen, and reported working again", () => {
  const t = tempHome();
  try {
    const dir = join(t.home, "logs");
    const path = join(dir, "daemon.log");
    const problems: (string | null)[] = [];
    const logger = createLogger(path, "info", (err) => problems.push(err && err.message));
    logger.info("first");
    logger.info("second");
    expect(problems.length).toBe(1);
    expect(problems[0]).toContain("ENOENT");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    logger.reopen();
    logger.info("third");
    logger.close();
    expect(problems).toEqual([problems[0]!, null]);
    expect(readFileSync(path, "utf8")).toEndWith("INFO  third\n");
  } finally {
    t.cleanup();
  }
});

// The daemon kept writing into a log file deleted with its directory (or by logrotate without a SIGHUP):
// every line went to a file nobody could see, and nothing said so.
test("a log file deleted under the writer is noticed: recreated at its path, or reported when it cannot be", async () => {
  const t = tempHome();
  try {
    const dir = join(t.home, "logs");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, "daemon.log");
    const problems: (string | null)[] = [];
    const file = new RotatingLogFile(path, { maxBytes: 1 << 20, files: 2 }, (err) => problems.push(err && (err as NodeJS.ErrnoException).code!), 50);
    file.write(Buffer.from("one\n"));
    rmSync(path);
    await Bun.sleep(80);
    file.write(Buffer.from("two\n"));
    expect(readFileSync(path, "utf8")).toBe("two\n");
    rmSync(dir, { recursive: true });
    await Bun.sleep(80);
    file.write(Buffer.from("three\n"));
    expect(problems).toEqual(["ENOENT"]);
    file.close();
  } finally {
    t.cleanup();
  }
});
