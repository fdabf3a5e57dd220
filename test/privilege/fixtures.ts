import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "bun:test";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { ADI_BIN, BUN, MAIN } from "../helpers/env.ts";

/** The CLI under test: dist/adi, or the source with ADI_TEST_CLI=source (like TestDaemon). */
export const ADI_ARGV = process.env.ADI_TEST_CLI === "source" ? [BUN, MAIN] : [ADI_BIN];

/**
 * Shared set-up for the privilege tests. They need root (to switch users) and
 * the adi/adi-root users with their sudoers rule, which they create through
 * `adi daemon setup-users` (idempotent; CI does the same). Without root they
 * skip, saying why.
 */
export function privilegeSkipReason(): string | null {
  if (process.platform !== "linux") return "privilege tests need Linux (SO_PEERCRED, /proc)";
  if (process.getuid?.() !== 0) return "privilege tests need root (they create users and switch to them)";
  if (!Bun.which("sudo", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" })) return "privilege tests need sudo installed";
  if (!lookupUser("adi") || !lookupUser("adi-root") || !existsSync("/etc/sudoers.d/adi-root")) {
    const r = Bun.spawnSync([...ADI_ARGV, "daemon", "setup-users"], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) return `adi daemon setup-users failed: ${r.stderr.toString()}`;
  }
  return null;
}

export function skipNotice(file: string, reason: string | null): boolean {
  if (reason) console.log(`SKIP ${file}: ${reason}`);
  return reason !== null;
}

let counter = 0;

/**
 * A root-owned stub command on the fixed PATH (/usr/local/bin/adi-t-stub-…)
 * that appends its argv to a marker file: the marker proves whether it ran.
 */
export class Stub {
  readonly name: string;
  readonly path: string;
  readonly dir: string;
  readonly marker: string;
  private readonly extra: string[] = [];

  constructor() {
    this.name = `adi-t-stub-${process.pid}-${++counter}`;
    this.path = join("/usr/local/bin", this.name);
    this.dir = mkdtempSync(join(tmpdir(), "adi-t-stub-"));
    chmodSync(this.dir, 0o755);
    this.marker = join(this.dir, "ran");
    mkdirSync("/usr/local/bin", { recursive: true });
    this.write(this.path, this.marker);
  }

  /** A script that records "$@" (one line per argument) into `marker`. */
  write(path: string, marker: string): void {
    writeFileSync(path, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> '${marker}'\nid -u >> '${marker}'\n`, { mode: 0o755 });
    chmodSync(path, 0o755);
    if (path !== this.path) this.extra.push(path);
  }

  get ran(): boolean {
    return existsSync(this.marker);
  }

  cleanup(): void {
    rmSync(this.path, { force: true });
    for (const p of this.extra) rmSync(p, { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A plugin source directory with plugin.toml and a trivial executable. */
export function pluginSource(base: string, name: string, privileged: string[], extra = ""): string {
  const dir = join(base, `src-${name}`);
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", name), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  writeFileSync(
    join(dir, "plugin.toml"),
    `name = "${name}"\nversion = "0.1.0"\nexecutable = "bin/${name}"\nprivileged_commands = ${JSON.stringify(privileged)}\n${extra}`,
  );
  return dir;
}

export const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes ?? new Uint8Array());

/**
 * A daemon on a machine without the isolation users (named so they cannot
 * exist): `run` runs as the owner, every `sudo_run` is denied (and audited).
 * Started before the calling file's tests, stopped after them.
 */
export function daemonWithoutIsolation(): () => TestDaemon {
  let daemon: TestDaemon | undefined;
  beforeAll(async () => {
    daemon = new TestDaemon({ env: { ADI_USER: "adi-t-nouser", ADI_ROOT_USER: "adi-t-noroot" } });
    await daemon.start();
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });
  return () => daemon!;
}
