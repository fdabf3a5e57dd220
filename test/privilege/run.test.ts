import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { execute, MAX_OUTPUT_BYTES, spawnErrorCode, type CommandResultInit } from "../../src/daemon/privilege/executor.ts";
import { encodeResponseFrame, FRAME_HEADER_BYTES, MAX_RESPONSE_FRAME } from "../../src/protocol/index.ts";
import { liveProcesses } from "../../src/util/proc-stat.ts";
import { pidAlive, tempHome } from "../helpers/env.ts";
import { PrivilegeHarness, pluginCaller } from "./harness.ts";
import { daemonWithoutIsolation, privilegeSkipReason, skipNotice, text } from "./fixtures.ts";

/** Body bytes of the response frame carrying `result` (the largest id: its varint is the widest). */
function resultFrameBytes(result: CommandResultInit): number {
  return encodeResponseFrame({ id: 0xffffffff, kind: { case: "commandResult", value: result } }).length - FRAME_HEADER_BYTES;
}

/** A command writing `bytes` zeros to stdout, then as many to stderr, then exiting 3. */
const bothStreams = (bytes: number) => ["/bin/sh", "-c", `head -c ${bytes} /dev/zero; head -c ${bytes} /dev/zero >&2; exit 3`];

/** Pids of live processes whose argv is exactly `argv` (a unique sleep duration marks a test's own). */
function pidsRunning(argv: string[]): number[] {
  const want = `${argv.join("\0")}\0`;
  return liveProcesses()
    .filter(({ pid }) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8") === want;
      } catch {
        return false;
      }
    })
    .map(({ pid }) => pid);
}

function killRunning(argv: string[]): void {
  for (const pid of pidsRunning(argv)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/**
 * A shell that daemonizes a sleeper (setsid -f: its own session, out of the
 * command's group) holding the command's stdout and stderr, and goes on only
 * once the sleeper runs in its session (the sleeper's exec closes the $(…) pipe).
 */
function daemonizingShell(sleeper: string[], then: string): string[] {
  const script = `exec 3>&1; ready=$(/usr/bin/setsid -f /bin/sh -c 'echo ready; exec ${sleeper.join(" ")} >&3 3>&-'); echo "$ready"; ${then}`;
  return ["/bin/sh", "-c", script];
}

// Sleepers left outside the command's session are not the executor's to kill: the tests kill them.
const sleeper = ["/bin/sleep", `20.${process.pid}`];
const leader = ["/bin/sleep", `29.${process.pid}`];

describe("executor", () => {
  afterEach(() => {
    killRunning(sleeper);
    killRunning(leader);
  });

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

  test("both streams over the cap: each is cut at it, and the result still fits one response frame", async () => {
    const r = await execute({ argv: bothStreams(9_000_000) });
    expect(r.exitCode).toBe(3);
    expect(r.stdout?.length).toBe(MAX_OUTPUT_BYTES);
    expect(r.stderr?.length).toBe(MAX_OUTPUT_BYTES);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.stderrTruncated).toBe(true);
    expect(resultFrameBytes(r)).toBeLessThanOrEqual(MAX_RESPONSE_FRAME);
    // Every other field at its widest (a negative exit code is a 10-byte varint) still fits, with room to spare.
    const widest = { ...r, exitCode: -1, signal: "SIGRTMIN+15".repeat(10), timedOut: true, durationMs: 0xffffffff };
    expect(resultFrameBytes(widest)).toBeLessThanOrEqual(MAX_RESPONSE_FRAME - 1024);
    // A bigger cap asked for is held to the frame's.
    const asked = await execute({ argv: bothStreams(9_000_000), maxOutputBytes: 9_000_000 });
    expect([asked.stdout?.length, asked.stderr?.length]).toEqual([MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES]);
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

  test("a daemonized grandchild holding the pipes does not hold the answer past the deadline", async () => {
    const started = performance.now();
    const r = await execute({ argv: daemonizingShell(sleeper, "echo leader done"), timeoutMs: 400 });
    const took = performance.now() - started;
    // The leader exited 0 at once; the deadline, not the sleeper's 20 s, ended the wait (the bound
    // leaves a slow machine seconds for the shells, and is still far from the sleeper).
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(3_000);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.signal).toBe("");
    expect(text(r.stdout as Uint8Array)).toBe("ready\nleader done\n");
    // Not provably the command's (another session): left alone, and no longer read.
    expect(pidsRunning(sleeper).length).toBe(1);
  });

  test("with the leader still running at the deadline, the answer comes after the kill grace at the latest", async () => {
    const started = performance.now();
    const r = await execute({ argv: daemonizingShell(sleeper, `exec ${leader.join(" ")}`), timeoutMs: 300 });
    const took = performance.now() - started;
    expect(took).toBeLessThan(300 + 1_000 + 1_500); // deadline + kill grace + room for a slow machine; the sleeper runs 20 s
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGTERM");
    expect(text(r.stdout as Uint8Array)).toBe("ready\n");
    expect(pidsRunning(leader)).toEqual([]);
    expect(pidsRunning(sleeper).length).toBe(1);
  });

  test("a command that cannot start says why: missing, too long for the kernel, not executable", async () => {
    const codeOf = (argv: string[]) =>
      execute({ argv }).then(
        () => "ran",
        (error: AdiError) => `${ErrorCode[error.code]}: ${error.message}`,
      );
    expect(await codeOf(["/adi/no/such/binary"])).toMatch(/^NOT_FOUND: cannot run \/adi\/no\/such\/binary/);
    // One argument of MAX_ARG_STRLEN (128 KiB, its NUL included) or more: the request's fault, not a missing command.
    expect(await codeOf(["/bin/echo", "x".repeat(200 * 1024)])).toMatch(/^INVALID_ARGUMENT: cannot run \/bin\/echo: .*E2BIG/);
    // Not executable (no x bit: even root may not exec it); executable but no program (no format, no `#!`).
    const plain = join(tmpdir(), `adi-t-plain-${process.pid}`);
    const noProgram = join(tmpdir(), `adi-t-noprogram-${process.pid}`);
    writeFileSync(plain, "#!/bin/sh\n", { mode: 0o644 });
    writeFileSync(noProgram, "just text\n", { mode: 0o755 });
    try {
      expect(await codeOf([plain])).toMatch(/^PERMISSION_DENIED: cannot run /);
      expect(await codeOf([noProgram])).toMatch(/^INVALID_ARGUMENT: cannot run .*ENOEXEC/);
    } finally {
      rmSync(plain, { force: true });
      rmSync(noProgram, { force: true });
    }
    expect(spawnErrorCode("EAGAIN")).toBe(ErrorCode.RESOURCE_EXHAUSTED);
    expect(spawnErrorCode(undefined)).toBe(ErrorCode.INTERNAL);
  });
});

describe("run through the daemon (isolation off: as the owner)", () => {
  const daemonOf = daemonWithoutIsolation();

  test("both streams over the cap: the caller gets its exit code and both outputs cut, not RESOURCE_EXHAUSTED", async () => {
    const client = daemonOf().client();
    try {
      const r = await client.run("/bin/sh", bothStreams(9_000_000).slice(1));
      expect(r.exitCode).toBe(3);
      expect([r.stdout.length, r.stderr.length]).toEqual([MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES]);
      expect([r.stdoutTruncated, r.stderrTruncated]).toEqual([true, true]);
    } finally {
      client.close();
    }
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
  afterAll(() => {
    killRunning(sleeper);
    t?.cleanup();
  });

  test('run("id", ["-un"]) executes as adi', async () => {
    const r = await h.run(pluginCaller("p1"), "id", ["-un"]);
    expect(r.exitCode).toBe(0);
    expect(text(r.stdout as Uint8Array)).toBe("adi\n");
  });

  test("a NUL byte in the command or an argument is INVALID_ARGUMENT, naming which (exec would cut the string short)", async () => {
    await expect(h.run(pluginCaller("p1"), "ec\0ho", [])).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: "the command must not contain NUL" });
    await expect(h.run(pluginCaller("p1"), "echo", ["ok", "a\0b"])).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: "argument 2 must not contain NUL" });
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

  test("a daemonized grandchild does not keep run past timeout_ms, nor its caller's slot", async () => {
    const [sh, ...args] = daemonizingShell(sleeper, "true");
    const started = performance.now();
    const r = await h.run(pluginCaller("daemonizer"), sh!, args, 400);
    expect(performance.now() - started).toBeLessThan(3_000); // the deadline (400 ms) ended it, not the 20 s sleeper
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(pidsRunning(sleeper).length).toBe(1);
    const slots = Array.from({ length: 32 }, () => h.run(pluginCaller("daemonizer"), "true", []));
    for (const s of await Promise.all(slots)) expect(s.exitCode).toBe(0);
  });

  test("a relative command is refused; an unknown one is NOT_FOUND", async () => {
    await expect(h.run(pluginCaller("p1"), "./id", [])).rejects.toThrow(/bare name or an absolute path/);
    await expect(h.run(pluginCaller("p1"), "adi-no-such-cmd", [])).rejects.toThrow(/not found on the fixed PATH/);
  });
});
