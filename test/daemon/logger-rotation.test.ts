import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../src/daemon/logger.ts";
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
