import { afterAll, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { writeFileSync } from "node:fs";
import { ErrorCode } from "../../src/errors.ts";
import { ADI_BIN, BUN, ROOT, pidAlive, waitFor } from "../helpers/env.ts";

// A service that makes itself root (a setuid-root python calling setuid(0)) cannot be signalled by a
// daemon running as `adi`: the daemon's shutdown used to wait on it for ever, and every start after it.
const adi = process.platform === "linux" && process.getuid?.() === 0 ? lookupUser("adi") : null;
const python = Bun.which("python3", { PATH: "/usr/bin:/bin" });
const skip = !adi ? "needs root and the user adi" : !python ? "needs python3" : null;
if (skip) console.log(`test/daemon/unkillable-stop.test.ts skipped: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), "adi-t-unkillable-"));
const leftovers: number[] = [];
let leftover: number | null = null;
afterAll(() => {
  if (leftover !== null && pidAlive(leftover)) process.kill(leftover, "SIGKILL");
  try {
    leftovers.push(Number(readFileSync(join(dir, "py2.pid"), "utf8")));
  } catch {}
  for (const pid of leftovers) if (pid > 0 && pidAlive(pid)) process.kill(pid, "SIGKILL");
  if (!process.env.ADI_T_KEEP) rmSync(dir, { recursive: true, force: true });
});

/** A setuid-root copy of python in the test's directory (0755, so `adi` can reach it). */
function setuidRootPython(name: string): string {
  chmodSync(dir, 0o755);
  const suid = join(dir, name);
  copyFileSync(realpathSync(python!), suid);
  chmodSync(suid, 0o4755);
  return suid;
}

test.skipIf(skip !== null)("a daemon shutdown ends though a service outlives SIGKILL; the log says which pid was left", async () => {
  const suid = setuidRootPython("py");
  const home = join(dir, "home");
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, adi!.uid, adi!.gid);
  const env = { PATH: "/usr/bin:/bin", HOME: home, ADI_HOME: home, NO_COLOR: "1" };
  const as = { uid: adi!.uid, gid: adi!.gid, env, cwd: "/", stdin: "ignore" as const, stdout: "pipe" as const, stderr: "pipe" as const };
  const cli = (args: string[]) => Bun.spawnSync([ADI_BIN, ...args], as);
  expect(cli(["daemon", "start"]).exitCode).toBe(0);
  const daemonPid = Number(readFileSync(join(home, "daemon.pid"), "utf8"));
  try {
    const code = "import os,signal,time\nos.setuid(0)\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('uid' + str(os.getuid()) + '-now', flush=True)\ntime.sleep(1000)";
    const started = cli(["daemon", "start", "stuck", "--stop-timeout", "1", "--", suid, "-c", code]);
    expect(started.stderr.toString()).toBe("");
    await waitFor(() => readFileSync(join(home, "logs", "services", "stuck.log"), "utf8").includes("uid0-now"), 5_000, "the service to become root");
    leftover = Number(/started pid (\d+)/.exec(readFileSync(join(home, "logs", "services", "stuck.log"), "utf8"))![1]);
    const t0 = performance.now();
    const stop = Bun.spawn([ADI_BIN, "daemon", "stop"], as);
    expect(await stop.exited).toBe(0);
    // 1 s stop timeout, 2 s of KILL attempts, 5 s of waiting: then the daemon is gone.
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(pidAlive(daemonPid)).toBe(false);
    expect(pidAlive(leftover)).toBe(true);
    expect(readFileSync(join(home, "logs", "services", "stuck.log"), "utf8")).toContain(`pid ${leftover} is still there 5000 ms after SIGKILL`);
  } finally {
    if (pidAlive(daemonPid)) process.kill(daemonPid, "SIGKILL");
  }
}, 30_000);

test.skipIf(skip !== null)("a `run` whose command outlives SIGKILL is answered, DEADLINE_EXCEEDED, past the deadline, the grace and 5 s", async () => {
  const suid = setuidRootPython("py2");
  const script = join(dir, "run.ts");
  // Its pid goes to a file, so cleanup finds it even when the test fails before it is answered.
  const code = `import os,signal,time\nos.setuid(0)\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nopen(${JSON.stringify(join(dir, "py2.pid"))}, "w").write(str(os.getpid()))\ntime.sleep(1000)`;
  writeFileSync(
    script,
    `import { execute } from ${JSON.stringify(join(ROOT, "src/daemon/privilege/executor.ts"))};
const t0 = performance.now();
try {
  await execute({ argv: [${JSON.stringify(suid)}, "-c", ${JSON.stringify(code)}], timeoutMs: 300 });
  console.log(JSON.stringify({ answered: "result" }));
} catch (err) {
  console.log(JSON.stringify({ answered: "error", code: err.code, message: err.message, ms: performance.now() - t0 }));
}
process.exit(0);
`,
    { mode: 0o644 },
  );
  // As adi, which cannot signal the command once it has made itself root.
  const p = Bun.spawn([BUN, script], { uid: adi!.uid, gid: adi!.gid, cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: dir }, stdout: "pipe", stderr: "pipe" });
  const out = (await new Response(p.stdout).text()).trim();
  await p.exited;
  const answer = JSON.parse(out.split("\n").at(-1)!);
  expect(answer).toMatchObject({ answered: "error", code: ErrorCode.DEADLINE_EXCEEDED });
  expect(answer.message).toContain("is still there 5000 ms after SIGKILL");
  expect(answer.ms).toBeGreaterThan(6_000);
  expect(answer.ms).toBeLessThan(12_000);
  const pid = Number(/pid (\d+)/.exec(answer.message)![1]);
  leftovers.push(pid);
  expect(pidAlive(pid)).toBe(true);
}, 30_000);
