import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADI_BIN, tempHome } from "../helpers/env.ts";

/**
 * A compiled Bun program reads `.env` and `bunfig.toml` from its working
 * directory unless built not to (build.ts). adi must not: a directory's
 * `.env` would choose its ADI_HOME, and a bunfig.toml `preload` would run the
 * directory's code inside adi.
 */
describe("the compiled adi ignores .env and bunfig.toml in its working directory", () => {
  // The daemon's own environment is checked through the CLI it answers: status reports its socket.
  const fromSource = process.env.ADI_TEST_CLI === "source";
  if (fromSource) console.log("skipped: ADI_TEST_CLI=source runs `bun src/main.ts`, and bun itself reads both by design");

  test.skipIf(fromSource)("neither a .env variable nor a preload script takes effect, for the CLI or the daemon it starts", () => {
    const t = tempHome();
    try {
      const cwd = join(t.home, "..", "project");
      const marker = join(cwd, "preload-ran");
      const otherSocket = join(cwd, "other.sock");
      mkdirSync(cwd, { recursive: true });
      // A .env never overrides a variable that is set: ADI_DAEMON_SOCKET is not (tempHome unsets it).
      writeFileSync(join(cwd, ".env"), `ADI_DAEMON_SOCKET=${otherSocket}\n`);
      writeFileSync(join(cwd, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
      writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
      const run = (...args: string[]) => Bun.spawnSync([ADI_BIN, ...args], { cwd, env: t.env, stdout: "pipe", stderr: "pipe" });

      const version = run("--version");
      expect(version.exitCode).toBe(0);
      const down = run("daemon", "status");
      expect(down.exitCode).toBe(3);
      expect(down.stdout.toString()).toContain(join(t.home, "daemon.sock"));
      const started = run("daemon", "start");
      expect(started.exitCode).toBe(0);
      try {
        const up = run("daemon", "status", "--json");
        expect(up.exitCode).toBe(0);
        expect(JSON.parse(up.stdout.toString()).socket).toBe(join(t.home, "daemon.sock"));
      } finally {
        expect(run("daemon", "stop").exitCode).toBe(0);
      }
      expect(existsSync(marker)).toBe(false);
    } finally {
      t.cleanup();
    }
  });
});
