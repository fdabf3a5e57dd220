import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { BUN, ROOT } from "../helpers/env.ts";
import { ADI_ARGV, privilegeSkipReason, skipNotice } from "./fixtures.ts";

const skip = privilegeSkipReason();
skipNotice("test/privilege/setup-users.test.ts", skip);

const owner = `adi-t-own${process.pid % 100000}`;
const ownerRule = `/etc/sudoers.d/adi-owner-${owner}`;

function adi(args: string[], opts: { uid?: number; gid?: number } = {}) {
  const r = Bun.spawnSync([...ADI_ARGV, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", HOME: "/" },
    cwd: "/",
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

afterAll(() => {
  rmSync(ownerRule, { force: true });
  if (lookupUser(owner)) Bun.spawnSync(["userdel", owner]);
});

describe.skipIf(skip !== null)("adi daemon setup-users", () => {
  test("a non-root user is told to use root, exit 4, nothing changed", () => {
    const r = adi(["daemon", "setup-users"], { uid: 65534, gid: 65534 });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/must run as root/);
  });

  test("idempotent: with the users and rule in place it reports and changes nothing", () => {
    const rule = "/etc/sudoers.d/adi-root";
    const before = statSync(rule).mtimeMs;
    const r = adi(["daemon", "setup-users"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/user adi exists/);
    expect(r.stdout).toMatch(/user adi-root exists/);
    expect(r.stdout).toMatch(/adi-root is up to date/);
    expect(statSync(rule).mtimeMs).toBe(before);
    expect(statSync(rule).mode & 0o777).toBe(0o440);
    expect(readFileSync(rule, "utf8")).toMatch(/^adi-root ALL=\(root\) NOPASSWD: ALL$/m);
  });

  test("--dry-run prints the owner rule it would write and writes nothing", () => {
    expect(Bun.spawnSync(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", owner]).exitCode).toBe(0);
    const r = adi(["daemon", "setup-users", "--owner", owner, "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`would write ${ownerRule}`);
    expect(r.stdout).toContain(`${owner} ALL=(adi,adi-root) NOPASSWD: ALL`);
    expect(existsSync(ownerRule)).toBe(false);
  });

  test("bad owner names are refused", () => {
    expect(adi(["daemon", "setup-users", "--owner", "x;reboot"]).code).toBe(2);
    expect(adi(["daemon", "setup-users", "--owner", "adi-t-no-such-user"]).code).toBe(1);
  });

  test("--owner: a non-root daemon owner gets isolation through sudo (run as adi, sudo_run via adi-root)", async () => {
    const r = adi(["daemon", "setup-users", "--owner", owner]);
    expect(r.code).toBe(0);
    expect(statSync(ownerRule).mode & 0o777).toBe(0o440);
    expect(Bun.spawnSync(["visudo", "-cf", ownerRule]).exitCode).toBe(0);
    const user = lookupUser(owner)!;
    const dir = mkdtempSync(join(tmpdir(), "adi-t-owner-"));
    chmodSync(dir, 0o755);
    const script = join(dir, "plan.ts");
    writeFileSync(
      script,
      `import { detectIsolation } from ${JSON.stringify(join(ROOT, "src/daemon/privilege/isolation.ts"))};
import { execute } from ${JSON.stringify(join(ROOT, "src/daemon/privilege/executor.ts"))};
import { resolvePaths } from ${JSON.stringify(join(ROOT, "src/config.ts"))};
const plan = await detectIsolation(resolvePaths({ ADI_HOME: "/nonexistent/adi" }));
const dec = (b) => new TextDecoder().decode(b).trim();
const run = await execute({ argv: [...plan.run.prefix, "/usr/bin/id", "-un"] });
const sudo = plan.sudo ? await execute({ argv: [...plan.sudo.prefix, "/usr/bin/sudo", "-n", "--", "/usr/bin/id", "-u"] }) : null;
console.log(JSON.stringify({ enabled: plan.enabled, reason: plan.reason, serviceUser: plan.serviceUser, run: dec(run.stdout), sudo: sudo && dec(sudo.stdout) }));
`,
      { mode: 0o644 },
    );
    try {
      const p = Bun.spawnSync([BUN, script], { uid: user.uid, gid: user.gid, cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: dir }, stdout: "pipe", stderr: "pipe" });
      expect(p.stderr.toString()).toBe("");
      const plan = JSON.parse(p.stdout.toString());
      expect(plan).toEqual({ enabled: true, reason: "run executes as adi, sudo_run through adi-root", serviceUser: null, run: "adi", sudo: "0" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
