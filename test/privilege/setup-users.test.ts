import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { BUN, ROOT } from "../helpers/env.ts";
import { ADI_ARGV, privilegeSkipReason, skipNotice } from "./fixtures.ts";

const skip = privilegeSkipReason();
skipNotice("test/privilege/setup-users.test.ts", skip);

const tag = process.pid % 100000;
const owner = `adi-t-own${tag}`;
const ownerRule = `/etc/sudoers.d/adi-owner-${owner}`;
/** A second owner, a person's login account, and a pair of isolation users of this test's own. */
const owner2 = `adi-t-ow2${tag}`;
const login = `adi-t-login${tag}`;
const testUser = `adi-t-u${tag}`;
const testRoot = `adi-t-r${tag}`;
const testUsers = { ADI_USER: testUser, ADI_ROOT_USER: testRoot };

function adi(args: string[], opts: { uid?: number; gid?: number; env?: Record<string, string> } = {}) {
  const r = Bun.spawnSync([...ADI_ARGV, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", HOME: "/", ...opts.env },
    cwd: "/",
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

afterAll(() => {
  for (const name of [owner, owner2, login, testUser, testRoot]) {
    rmSync(`/etc/sudoers.d/adi-owner-${name}`, { force: true });
    rmSync(`/etc/sudoers.d/${name}`, { force: true });
    if (lookupUser(name)) Bun.spawnSync(["userdel", name]);
  }
  // What the refusals below prevent, should a test of them fail: only adi's own rules are taken.
  for (const path of ["/etc/sudoers.d/root", "/etc/sudoers.d/adi-owner-adi"]) {
    if (existsSync(path) && readFileSync(path, "utf8").startsWith("# Written by adi daemon setup-users")) rmSync(path);
  }
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

  test("ADI_USER and ADI_ROOT_USER the same account is refused (every plugin would get sudo); nothing is written", () => {
    const r = adi(["daemon", "setup-users"], { env: { ADI_USER: testRoot, ADI_ROOT_USER: testRoot } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ADI_USER and ADI_ROOT_USER are both ${testRoot}`);
    expect(lookupUser(testRoot)).toBeNull();
    expect(existsSync(`/etc/sudoers.d/${testRoot}`)).toBe(false);
  });

  test("root, or a person's login account, is never made ADI_ROOT_USER or ADI_USER", () => {
    const asRoot = adi(["daemon", "setup-users"], { env: { ADI_USER: testUser, ADI_ROOT_USER: "root" } });
    expect(asRoot.code).toBe(1);
    expect(asRoot.stderr).toContain("ADI_ROOT_USER=root is uid 0 (root)");
    expect(existsSync("/etc/sudoers.d/root")).toBe(false);
    expect(Bun.spawnSync(["useradd", "--no-create-home", "--shell", "/bin/bash", login]).exitCode).toBe(0);
    for (const env of [{ ADI_USER: testUser, ADI_ROOT_USER: login }, { ADI_USER: login, ADI_ROOT_USER: testRoot }]) {
      const r = adi(["daemon", "setup-users"], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`ADI_(ROOT_)?USER=${login} is an account one can log in to \\(shell /bin/bash\\)`));
      expect(existsSync(`/etc/sudoers.d/${login}`)).toBe(false);
      // Refused before anything is created.
      expect(lookupUser(testUser) ?? lookupUser(testRoot)).toBeNull();
    }
  });

  test("the owner cannot be ADI_USER or ADI_ROOT_USER", () => {
    const r = adi(["daemon", "setup-users", "--owner", "adi"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the owner must be the user who runs the daemon, not adi");
  });

  test("a new owner's run shows the earlier owner's rule; --remove --owner takes only that one", () => {
    expect(Bun.spawnSync(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", owner2]).exitCode).toBe(0);
    if (!lookupUser(owner)) expect(Bun.spawnSync(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", owner]).exitCode).toBe(0);
    expect(adi(["daemon", "setup-users", "--owner", owner]).code).toBe(0);
    const second = adi(["daemon", "setup-users", "--owner", owner2]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`note: ${ownerRule}, the rule for owner ${owner}, is still in place (remove it: sudo adi daemon setup-users --remove --owner ${owner})`);
    const dry = adi(["daemon", "setup-users", "--remove", "--owner", owner, "--dry-run"]);
    expect(dry.stdout).toContain(`would remove ${ownerRule}`);
    expect(existsSync(ownerRule)).toBe(true);
    const removed = adi(["daemon", "setup-users", "--remove", "--owner", owner]);
    expect(removed.code).toBe(0);
    expect(existsSync(ownerRule)).toBe(false);
    expect(existsSync(`/etc/sudoers.d/adi-owner-${owner2}`)).toBe(true);
    expect(existsSync("/etc/sudoers.d/adi-root")).toBe(true);
  });

  test("--remove takes every rule it wrote, leaves a file it did not write, and keeps the users", () => {
    const pairA = existsSync(ownerRule) ? null : ownerRule;
    // Another pair's owner rule (adi/adi-root) is not this pair's to remove.
    expect(adi(["daemon", "setup-users", "--owner", owner]).code).toBe(0);
    rmSync(`/etc/sudoers.d/adi-owner-${owner2}`, { force: true }); // the adi/adi-root pair's, from the test above
    expect(adi(["daemon", "setup-users", "--owner", owner2], { env: testUsers }).code).toBe(0);
    const rootRule = `/etc/sudoers.d/${testRoot}`;
    expect(readFileSync(rootRule, "utf8")).toContain(`${testRoot} ALL=(root) NOPASSWD: ALL`);
    const removed = adi(["daemon", "setup-users", "--remove"], { env: testUsers });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`remove ${rootRule}`);
    expect(removed.stdout).toContain("the users are kept");
    expect(existsSync(rootRule)).toBe(false);
    expect(existsSync(`/etc/sudoers.d/adi-owner-${owner2}`)).toBe(false);
    expect(existsSync(ownerRule)).toBe(true);
    if (pairA) rmSync(pairA);
    expect(lookupUser(testUser)).not.toBeNull();
    expect(lookupUser(testRoot)).not.toBeNull();
    // A rule someone else wrote under the same name stays.
    writeFileSync(rootRule, `${testRoot} ALL=(root) NOPASSWD: /bin/true\n`, { mode: 0o440 });
    const again = adi(["daemon", "setup-users", "--remove"], { env: testUsers });
    expect(again.stdout).toContain(`${rootRule} was not written by adi daemon setup-users: left in place`);
    expect(existsSync(rootRule)).toBe(true);
    rmSync(rootRule);
  });

  test("an existing account this command did not make is refused, a service account included; marked as adi's, it is taken", () => {
    const svc = `adi-t-svc${tag}`;
    expect(Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", svc]).exitCode).toBe(0);
    try {
      const env = { ADI_USER: testUser, ADI_ROOT_USER: svc };
      const r = adi(["daemon", "setup-users", "--dry-run"], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ADI_ROOT_USER=${svc} already exists and was not made by adi daemon setup-users`);
      expect(r.stderr).toContain(`usermod -c 'adi isolation user (adi daemon setup-users)' ${svc}`);
      expect(Bun.spawnSync(["usermod", "-c", "adi isolation user (adi daemon setup-users)", svc]).exitCode).toBe(0);
      const marked = adi(["daemon", "setup-users", "--dry-run"], { env });
      expect(marked.code).toBe(0);
      expect(marked.stdout).toContain(`${svc} ALL=(root) NOPASSWD: ALL`);
    } finally {
      Bun.spawnSync(["userdel", svc]);
    }
  });

  test("accounts an earlier setup-users made (its root rule is there) get the mark; a rule file adi did not write is refused", () => {
    const pair = { ADI_USER: `adi-t-lu${tag}`, ADI_ROOT_USER: `adi-t-lr${tag}` };
    const rule = `/etc/sudoers.d/${pair.ADI_ROOT_USER}`;
    const legacyOwner = `adi-t-lo${tag}`;
    const legacyOwnerRule = `/etc/sudoers.d/adi-owner-${legacyOwner}`;
    try {
      for (const name of Object.values(pair)) expect(Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]).exitCode).toBe(0);
      writeFileSync(rule, `${pair.ADI_ROOT_USER} ALL=(root) NOPASSWD: /bin/true\n`, { mode: 0o440 });
      const foreign = adi(["daemon", "setup-users"], { env: pair });
      expect(foreign.code).toBe(1);
      expect(foreign.stderr).toContain(`${rule} was not written by adi daemon setup-users`);
      expect(readFileSync(rule, "utf8")).toBe(`${pair.ADI_ROOT_USER} ALL=(root) NOPASSWD: /bin/true\n`);
      writeFileSync(rule, `# Written by adi daemon setup-users: sudo_run executes \`sudo -n -- CMD\` as ${pair.ADI_ROOT_USER}.\n${pair.ADI_ROOT_USER} ALL=(root) NOPASSWD: ALL\n`);
      // The root rule vouches for ADI_ROOT_USER; an owner rule of the pair, for ADI_USER.
      writeFileSync(legacyOwnerRule, `# Written by adi daemon setup-users: a daemon run by ${legacyOwner} switches to ${pair.ADI_USER} (run) and ${pair.ADI_ROOT_USER} (sudo_run).\n${legacyOwner} ALL=(${pair.ADI_USER},${pair.ADI_ROOT_USER}) NOPASSWD: ALL\n`, { mode: 0o440 });
      const legacy = adi(["daemon", "setup-users"], { env: pair });
      expect(legacy.code).toBe(0);
      expect(legacy.stdout).toContain(`mark user ${pair.ADI_USER} as adi's`);
      for (const name of Object.values(pair)) expect(lookupUser(name)!.comment).toBe("adi isolation user (adi daemon setup-users)");
      // The root rule names ADI_ROOT_USER only: it vouches for no other account as ADI_USER.
      const svc = `adi-t-lw${tag}`;
      expect(Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "web server", svc]).exitCode).toBe(0);
      try {
        const other = adi(["daemon", "setup-users"], { env: { ...pair, ADI_USER: svc } });
        expect(other.code).toBe(1);
        expect(other.stderr).toContain(`ADI_USER=${svc} already exists and was not made by adi daemon setup-users`);
        expect(lookupUser(svc)!.comment).toBe("web server");
      } finally {
        Bun.spawnSync(["userdel", svc]);
      }
    } finally {
      rmSync(rule, { force: true });
      rmSync(legacyOwnerRule, { force: true });
      for (const name of Object.values(pair)) Bun.spawnSync(["userdel", name]);
    }
  });

  test("an owner rule for another pair of users is not replaced", () => {
    if (!lookupUser(owner)) expect(Bun.spawnSync(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", owner]).exitCode).toBe(0);
    expect(adi(["daemon", "setup-users", "--owner", owner]).code).toBe(0);
    const other = adi(["daemon", "setup-users", "--owner", owner, "--dry-run"], { env: testUsers });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`${ownerRule} already grants ${owner} something else`);
    expect(readFileSync(ownerRule, "utf8")).toContain(`${owner} ALL=(adi,adi-root) NOPASSWD: ALL`);
    rmSync(ownerRule);
  });
});
