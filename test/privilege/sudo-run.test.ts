import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, chownSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tempHome } from "../helpers/env.ts";
import { adminCaller, PrivilegeHarness, pluginCaller } from "./harness.ts";
import { ADI_ARGV, pluginSource, privilegeSkipReason, skipNotice, Stub, text } from "./fixtures.ts";

const skip = privilegeSkipReason();
skipNotice("test/privilege/sudo-run.test.ts", skip);

describe.skipIf(skip !== null)("sudo_run policy, executed for real", () => {
  let t: ReturnType<typeof tempHome>;
  let h: PrivilegeHarness;
  let stub: Stub;
  let calls = 0;
  const p1 = pluginCaller("p1");

  async function denied(caller: ReturnType<typeof pluginCaller>, command: string, args: string[], why: RegExp) {
    calls++;
    const r = await h.sudoRun(caller, command, args);
    expect(r.allowed).toBe(false);
    if (!r.allowed) expect(r.reason).toMatch(why);
    expect(stub.ran).toBe(false);
  }

  beforeAll(async () => {
    t = tempHome();
    stub = new Stub();
    const base = join(t.home, "..");
    h = await PrivilegeHarness.create(t.env);
    const s = stub.name;
    h.install(pluginSource(base, "p1", [`${s} -u`, `${s} -t nat -L`, `${s} get *`, "id -u", "sleep 7.77"]), true);
    h.install(pluginSource(base, "p2", [`${s} other`]), true);
    h.install(pluginSource(base, "p3", [`${s} -u`]), false);
    h.install(pluginSource(base, "p4", [`${s} -u`]), true);
  });

  afterAll(() => {
    stub?.cleanup();
    t?.cleanup();
  });

  test("isolation is on: run as adi, sudo_run through adi-root", async () => {
    expect((await h.priv.isolation()).enabled).toBe(true);
  });

  test("an approved pattern runs as root, with the argv intact", async () => {
    calls++;
    const r = await h.sudoRun(p1, "id", ["-u"]);
    expect(r.allowed).toBe(true);
    if (r.allowed) {
      expect(r.result.exitCode).toBe(0);
      expect(text(r.result.stdout as Uint8Array)).toBe("0\n");
    }
  });

  test("a NUL byte in the command or an argument is denied, naming which, before any pattern is looked at", async () => {
    await denied(p1, "i\0d", ["-u"], /^invalid: the command must not contain NUL$/);
    await denied(p1, stub.name, ["-\0u"], /^invalid: argument 1 must not contain NUL$/);
  });

  test("extra, missing, space-joined, metacharacter and differently cased arguments are denied", async () => {
    await denied(p1, stub.name, ["-u", "x"], /no match/);
    await denied(p1, stub.name, [], /no match/);
    await denied(p1, stub.name, ["-t nat", "-L"], /no match/);
    await denied(p1, stub.name, ["-t nat -L"], /no match/);
    await denied(p1, stub.name, ["-u;id"], /no match/);
    await denied(p1, stub.name, ["-u", "&&", "id"], /no match/);
    await denied(p1, stub.name, ["-U"], /no match/);
    await denied(p1, stub.name.toUpperCase(), ["-u"], /no approved pattern for command/);
  });

  test("relative, non-canonical and planted command paths are denied", async () => {
    const planted = join(stub.dir, stub.name);
    stub.write(planted, stub.marker);
    await denied(p1, `./${stub.name}`, ["-u"], /no approved pattern for command/);
    await denied(p1, `usr/local/bin/${stub.name}`, ["-u"], /no approved pattern/);
    await denied(p1, `/usr/local/bin/../bin/${stub.name}`, ["-u"], /no approved pattern/);
    await denied(p1, `/usr/local//bin/${stub.name}`, ["-u"], /no approved pattern/);
    await denied(p1, planted, ["-u"], /no approved pattern/);
  });

  test("another plugin's approval, a declined pattern and an unknown plugin are denied", async () => {
    await denied(pluginCaller("p2"), stub.name, ["-u"], /no match/);
    await denied(pluginCaller("p3"), stub.name, ["-u"], /not approved|no approval/);
    await denied(pluginCaller("ghost"), stub.name, ["-u"], /unknown plugin/);
    await denied(pluginCaller(undefined, "adhoc-web"), stub.name, ["-u"], /unknown plugin/);
    await denied(adminCaller, stub.name, ["-u"], /only for plugins/);
  });

  test.skipIf(!Bun.which("script"))("a pattern answered n at the prompt stays unusable while its sibling works", async () => {
    const quote = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const src = pluginSource(join(h.paths.home, ".."), "p5", [`${stub.name} yes`, `${stub.name} no`]);
    const cmd = [...ADI_ARGV, "plugin", "install", src].map(quote).join(" ");
    const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { env: t.env, stdin: new TextEncoder().encode("y\nn\n"), stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    await denied(pluginCaller("p5"), stub.name, ["no"], /not approved: pattern "adi-t-stub-.* no" was declined/);
    calls++;
    expect((await h.sudoRun(pluginCaller("p5"), stub.name, ["yes"])).allowed).toBe(true);
    expect(readFileSync(stub.marker, "utf8")).toBe("yes\n0\n");
    rmSync(stub.marker);
  });

  test("a manifest changed after approval loses it", async () => {
    appendFileSync(join(h.paths.pluginDir, "p4", "plugin.toml"), "# edited\n");
    await denied(pluginCaller("p4"), stub.name, ["-u"], /changed after it was approved/);
  });

  test("an approvals file others may write, or owned by someone else, is rejected (and logged)", async () => {
    chmodSync(h.paths.approvalsFile, 0o666);
    await denied(p1, stub.name, ["-u"], /mode 666/);
    chmodSync(h.paths.approvalsFile, 0o600);
    chownSync(h.paths.approvalsFile, 65534, 65534);
    await denied(p1, stub.name, ["-u"], /owned by uid 65534/);
    chownSync(h.paths.approvalsFile, 0, 0);
    expect(readFileSync(h.paths.daemonLog, "utf8")).toMatch(/approvals file rejected/);
  });

  test("a fake binary planted earlier on the fixed PATH is never run", async () => {
    const fake = join("/usr/local/sbin", stub.name);
    const fakeMarker = join(stub.dir, "fake-ran");
    stub.write(fake, fakeMarker);
    try {
      calls++;
      const r = await h.sudoRun(p1, stub.name, ["-u"]);
      expect(r.allowed).toBe(true);
      expect(existsSync(fakeMarker)).toBe(false);
      expect(readFileSync(stub.marker, "utf8")).toBe("-u\n0\n");
    } finally {
      rmSync(fake, { force: true });
      rmSync(stub.marker, { force: true });
    }
  });

  test("the exact stored absolute path is accepted; metacharacters in a * argument stay literal", async () => {
    calls++;
    expect((await h.sudoRun(p1, stub.path, ["-u"])).allowed).toBe(true);
    rmSync(stub.marker);
    const pwned = join(stub.dir, "pwned");
    calls++;
    const r = await h.sudoRun(p1, stub.name, ["get", `$(touch ${pwned}); \`touch ${pwned}\``]);
    expect(r.allowed).toBe(true);
    expect(existsSync(pwned)).toBe(false);
    expect(readFileSync(stub.marker, "utf8")).toBe(`get\n$(touch ${pwned}); \`touch ${pwned}\`\n0\n`);
    rmSync(stub.marker);
  });

  test("a timeout kills the privileged command and its group", async () => {
    calls++;
    const sleeping = () => Bun.spawnSync(["pgrep", "-f", "^/usr/bin/sleep 7.77$"]).stdout.toString().trim();
    const pending = h.sudoRun(p1, "sleep", ["7.77"], "slow", 500);
    await Bun.sleep(200);
    expect(sleeping()).not.toBe("");
    const r = await pending;
    expect(r.allowed).toBe(true);
    if (r.allowed) expect(r.result.timedOut).toBe(true);
    await Bun.sleep(100);
    expect(sleeping()).toBe("");
  });

  test("a huge unmatched command is quoted only in part, so its denial stays one small line", async () => {
    calls++;
    const command = `${"€".repeat(100)}${"x".repeat(1_000_000)}`;
    const r = await h.sudoRun(p1, command, ["a".repeat(100_000)], "huge");
    expect(r.allowed).toBe(false);
    if (r.allowed) return;
    // 256 bytes of the command: 85 whole 3-byte characters (255 bytes), then a mark that it was cut.
    expect(r.reason).toBe(`no match: plugin p1 has no approved pattern for command "${"€".repeat(85)}"…`);
    const last = readFileSync(h.paths.auditLog, "utf8").split("\n").at(-2)!;
    expect(Buffer.byteLength(last)).toBeLessThan(6_000);
    const record = JSON.parse(last);
    expect(record.deny_reason).toBe(r.reason);
    expect(record.argv).toEqual([`${"€".repeat(100)}${"x".repeat(4096 - 300)}`]);
    expect(record.argv_truncated).toBe(true);
  });

  test("a reason with newlines and escapes stays one escaped line; one line per decision", async () => {
    calls++;
    const reason = `line1\nline2\r\x1b[31mred\x1b[0m\u2028\x7f\u0085"quoted"\\ ${"x".repeat(400)}`;
    await h.sudoRun(p1, stub.name, ["nope"], reason);
    const raw = readFileSync(h.paths.auditLog, "utf8");
    const lines = raw.split("\n").slice(0, -1);
    expect(lines.length).toBe(calls);
    expect(raw.replace(/\n/g, "")).not.toMatch(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/);
    const last = JSON.parse(lines.at(-1)!);
    expect(last.decision).toBe("denied");
    expect(last.plugin).toBe("p1");
    expect(last.peer_pid).toBe(4242);
    expect(last.argv).toEqual([stub.name, "nope"]);
    expect(last.argv_truncated).toBe(false);
    expect(last.reason.startsWith("line1\nline2\r\x1b[31mred")).toBe(true);
    expect(new TextEncoder().encode(last.reason).length).toBeLessThanOrEqual(256);
    expect(last.reason_truncated).toBe(true);
    const allowed = lines.map((l) => JSON.parse(l)).filter((r) => r.decision === "allowed");
    expect(allowed.length).toBeGreaterThan(0);
    for (const r of allowed) {
      expect(typeof r.matched_pattern).toBe("string");
      expect(typeof r.duration_ms).toBe("number");
      expect(r.resolved_path.startsWith("/")).toBe(true);
    }
    expect(allowed.some((r) => r.exit_code === 0 && r.matched_pattern === "id -u")).toBe(true);
  });

  // Each request over the caller's limit of running commands was written as "allowed" (with an error),
  // outside the denial rate: a plugin flooding them rotated the whole audit log away in seconds.
  test("a sudo_run over the caller's limit of running commands never ran: audited as a denial, under the denial rate", async () => {
    const before = readFileSync(h.paths.auditLog, "utf8").split("\n").length - 1;
    const busy = Array.from({ length: 32 }, () => h.run(p1, "sleep", ["1"]));
    const over = await Promise.allSettled(Array.from({ length: 10 }, () => h.sudoRun(p1, "id", ["-u"])));
    for (const r of over) expect(r.status === "rejected" && (r.reason as Error).message).toBe("at most 32 commands may run at once for one caller");
    const records = readFileSync(h.paths.auditLog, "utf8").split("\n").slice(before, -1).map((l) => JSON.parse(l));
    expect(records.length).toBe(10);
    for (const r of records) expect(r).toMatchObject({ plugin: "p1", decision: "denied", deny_reason: "at most 32 commands may run at once for one caller", matched_pattern: "id -u" });
    await Promise.all(busy);
    const after = await h.sudoRun(p1, "id", ["-u"]);
    expect(after.allowed && text(after.result.stdout as Uint8Array)).toBe("0\n");
  });
});

describe.skipIf(skip !== null)("without the isolation users", () => {
  test("sudo_run is denied with a clear reason and status says isolation is off", async () => {
    const t = tempHome();
    try {
      const h = await PrivilegeHarness.create({ ...t.env, ADI_USER: "adi-t-nouser" });
      expect((await h.priv.isolation()).enabled).toBe(false);
      expect((await h.priv.isolation()).reason).toMatch(/adi-t-nouser does not exist/);
      const r = await h.sudoRun(pluginCaller("p1"), "id", ["-u"]);
      expect(r.allowed).toBe(false);
      if (!r.allowed) expect(r.reason).toMatch(/isolation is not set up/);
      // run still works, as the daemon's own user.
      const run = await h.run(pluginCaller("p1"), "id", ["-u"]);
      expect(text(run.stdout as Uint8Array)).toBe("0\n");
    } finally {
      t.cleanup();
    }
  });
});

