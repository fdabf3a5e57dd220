import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execute } from "../../src/daemon/privilege/executor.ts";
import { pidAlive, tempHome } from "../helpers/env.ts";
import { PrivilegeHarness, pluginCaller } from "./harness.ts";
import { privilegeSkipReason, skipNotice, text } from "./fixtures.ts";

describe("executor", () => {
  test("fixed environment, cwd /, stdin /dev/null, only fds 0-2", async () => {
    const env = await execute({ argv: ["/usr/bin/env"] });
    expect(text(env.stdout as Uint8Array).trim().split("\n").sort()).toEqual(["LANG=C", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    const pwd = await execute({ argv: ["/bin/pwd"] });
    expect(text(pwd.stdout as Uint8Array)).toBe("/\n");
    const cat = await execute({ argv: ["/bin/cat"], timeoutMs: 5_000 });
    expect(cat.timedOut).toBe(false);
    expect(cat.stdout?.length).toBe(0);
    // ls opens one fd of its own for the directory; anything else would be leaked from the daemon.
    const fds = await execute({ argv: ["/bin/ls", "/proc/self/fd"] });
    expect(text(fds.stdout as Uint8Array).trim().split("\n").map(Number).filter((n) => n > 3)).toEqual([]);
  });

  test("exit code, stderr and duration are reported", async () => {
    const r = await execute({ argv: ["/bin/ls", "/adi-no-such-path"] });
    expect(r.exitCode).toBe(2);
    expect(text(r.stderr as Uint8Array)).toMatch(/No such file/);
    expect(typeof r.durationMs).toBe("number");
    expect(r.signal).toBe("");
  });

  test("output beyond the cap is dropped and flagged, and the command still finishes", async () => {
    const r = await execute({ argv: ["/usr/bin/head", "-c", "300000", "/dev/zero"], maxOutputBytes: 100_000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout?.length).toBe(100_000);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.stderrTruncated).toBe(false);
  });

  test("a timeout ends the whole process group, grandchildren included", async () => {
    const r = await execute({ argv: ["/bin/sh", "-c", "sleep 30 & echo $!; sleep 30"], timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGTERM");
    const grandchild = Number(text(r.stdout as Uint8Array).trim());
    expect(grandchild).toBeGreaterThan(0);
    await Bun.sleep(50);
    expect(pidAlive(grandchild)).toBe(false);
  });

  test("a missing binary is NOT_FOUND, not a crash", async () => {
    await expect(execute({ argv: ["/adi/no/such/binary"] })).rejects.toThrow(/cannot run/);
  });
});

const skip = privilegeSkipReason();
skipNotice("test/privilege/run.test.ts", skip);

describe.skipIf(skip !== null)("run as ADI_USER", () => {
  let t: ReturnType<typeof tempHome>;
  let h: PrivilegeHarness;
  beforeAll(async () => {
    t = tempHome();
    h = await PrivilegeHarness.create(t.env);
  });
  afterAll(() => t?.cleanup());

  test('run("id", ["-un"]) executes as adi', async () => {
    const r = await h.run(pluginCaller("p1"), "id", ["-un"]);
    expect(r.exitCode).toBe(0);
    expect(text(r.stdout as Uint8Array)).toBe("adi\n");
  });

  test("adi cannot sudo", async () => {
    const r = await h.run(pluginCaller("p1"), "sudo", ["-n", "true"]);
    expect(r.exitCode).not.toBe(0);
  });

  test("no supplementary groups are inherited from the daemon", async () => {
    const r = await h.run(pluginCaller("p1"), "id", ["-G"]);
    const adiGid = Bun.spawnSync(["id", "-g", "adi"]).stdout.toString().trim();
    expect(text(r.stdout as Uint8Array).trim()).toBe(adiGid);
  });

  test("one caller may run at most 32 commands at once; others are not affected", async () => {
    const busy = Array.from({ length: 32 }, () => h.run(pluginCaller("busy"), "sleep", ["0.5"]));
    await expect(h.run(pluginCaller("busy"), "true", [])).rejects.toThrow(/at most 32 commands/);
    expect((await h.run(pluginCaller("calm"), "true", [])).exitCode).toBe(0);
    for (const r of await Promise.all(busy)) expect(r.exitCode).toBe(0);
    // Released when the commands finish.
    expect((await h.run(pluginCaller("busy"), "true", [])).exitCode).toBe(0);
  });

  test("a relative command is refused; an unknown one is NOT_FOUND", async () => {
    await expect(h.run(pluginCaller("p1"), "./id", [])).rejects.toThrow(/bare name or an absolute path/);
    await expect(h.run(pluginCaller("p1"), "adi-no-such-cmd", [])).rejects.toThrow(/not found on the fixed PATH/);
  });
});
