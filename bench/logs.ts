/**
 * Log follow under load: a service printing 100k numbered lines/s for 5 s
 * (test/services/fixtures/chatty.ts --linger). adi: one `logs NAME -f` follower on the daemon
 * socket counts the distinct line numbers it receives (lost = sent − seen)
 * while the daemon also keeps its ring and log file. supervisord, same
 * printer, same load: lost = lines missing from its stdout_logfile (it has no
 * lossless follow; `supervisorctl tail -f` polls). For both, the supervisor's
 * CPU time (utime+stime from /proc) from "go" until the last line arrived, and
 * how long the printer took (a blocked pipe slows it down). adi runs the load
 * twice: on a freshly started daemon (the figure), then again as a second
 * service of the same daemon, whose hot code JSC has compiled by then.
 * Beside them the floor any Bun supervisor stands on (bench/pipe-floor.ts:
 * a compiled Bun program that reads the printer's pipes as the daemon does
 * and keeps nothing), its CPU time measured the same way.
 * Usage: bun bench/logs.ts [--quick]
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonClient } from "../src/client/index.ts";
import { withDaemonAllocatorEnv } from "../src/client/launch.ts";
import { BUN, adiBinary, adiEnv, compileBaseline, cpuMs, mb, ms, printTable, rssKiB, tempDir, until, type Row } from "./lib.ts";
import { startSupervisord } from "./supervisord.ts";

const quick = process.argv.includes("--quick");
const RATE = 100_000;
const SECS = quick ? 1 : 5;
const TOTAL = RATE * SECS;
const PRINTER = join(import.meta.dir, "..", "test", "services", "fixtures", "chatty.ts");

interface Figures {
  lost: number;
  cpu: number;
  printerMs: number;
  /** The supervisor's RSS in KiB once the load is over (what it kept of its peak). */
  rssAfter: number;
}

function readReport(file: string): number {
  return Number(readFileSync(file, "utf8"));
}

/**
 * One printer run as a service `name` of the daemon at `pid`, followed by one
 * `logs -f` client: distinct lines seen, the daemon's CPU from "go" until the
 * last line arrived, and the printer's run time.
 */
async function followOnce(client: DaemonClient, pid: number, name: string, dir: string): Promise<Figures> {
  const go = join(dir, `${name}-go`);
  const report = join(dir, `${name}-report`);
  await client.startService(name, { command: BUN, args: [PRINTER, go, report, String(RATE), String(SECS), "--linger"] });
  const seen = new Uint8Array(TOTAL);
  let distinct = 0;
  let done = false;
  const follow = (async () => {
    for await (const line of client.logs(name, { follow: true })) {
      const text = line.text;
      if (text === "done") {
        done = true;
        return;
      }
      if (text.startsWith("line ")) {
        const n = Number(text.slice(5));
        if (n >= 0 && n < TOTAL && seen[n] === 0) {
          seen[n] = 1;
          distinct++;
        }
      }
    }
  })();
  await Bun.sleep(500); // the follower is registered and the printer is waiting for `go`
  const cpu0 = cpuMs(pid);
  writeFileSync(go, "");
  await until(() => done || existsSync(report), 60_000);
  await Promise.race([follow, Bun.sleep(10_000)]);
  const cpu = cpuMs(pid) - cpu0;
  await until(() => existsSync(report), 10_000);
  await client.stopService(name);
  return { lost: TOTAL - distinct, cpu, printerMs: readReport(report), rssAfter: rssKiB([pid]) };
}

/** The load on a freshly started daemon, then once more on the same daemon (its code compiled by then). */
async function adiFollow(dir: string): Promise<{ fresh: Figures; warm: Figures }> {
  const adi = adiBinary();
  const home = join(dir, "adi-home");
  const env = adiEnv(home);
  const client = new DaemonClient({ socketPath: join(home, "daemon.sock"), env, launcher: [adi], timeoutMs: 60_000 });
  try {
    await client.ensureRunning();
    const pid = (await client.status()).pid;
    const fresh = await followOnce(client, pid, "chatty", dir);
    const warm = await followOnce(client, pid, "chatty2", dir);
    return { fresh, warm };
  } finally {
    try {
      await client.shutdown(false);
    } catch {}
    client.close();
  }
}

/**
 * bench/pipe-floor.ts compiled as adi is, with the daemon's allocator setting, running the same
 * printer: its CPU time from "go" until it has read the "done" line. The printer is then ended by
 * pid, the floor exits when its pipes end, and anything left is killed by pid.
 */
async function pipeFloor(dir: string): Promise<number> {
  const floor = join(dir, "pipe-floor");
  await compileBaseline(join(import.meta.dir, "pipe-floor.ts"), floor, true);
  const go = join(dir, "floor-go");
  const report = join(dir, "floor-report");
  const done = join(dir, "floor-done");
  rmSync(done, { force: true });
  const proc = Bun.spawn([floor, BUN, PRINTER, go, report, String(RATE), String(SECS), "--linger"], {
    env: withDaemonAllocatorEnv({ ...process.env, ADI_FLOOR_DONE: done }),
    stdio: ["ignore", "ignore", "inherit"],
  });
  let printerPid = 0;
  try {
    await Bun.sleep(500); // the printer is up and waiting for `go`
    const cpu0 = cpuMs(proc.pid);
    writeFileSync(go, "");
    await until(() => existsSync(done) && readFileSync(done, "utf8") !== "", 60_000);
    const cpu = cpuMs(proc.pid) - cpu0;
    printerPid = Number(readFileSync(done, "utf8"));
    return cpu;
  } finally {
    if (printerPid > 0) process.kill(printerPid, "SIGKILL");
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
  }
}

/**
 * `supervisorctl tail -f NAME` against the supervisord of `conf`: the distinct line numbers it
 * prints, and whether it has printed "done". supervisord serves it from the log file over HTTP.
 */
function supervisorctlTail(conf: string, name: string): { seen(): number; done(): boolean; stop(): Promise<void> } {
  const proc = Bun.spawn(["supervisorctl", "-c", conf, "tail", "-f", name], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const seen = new Uint8Array(TOTAL);
  let distinct = 0;
  let done = false;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of proc.stdout) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === "done") done = true;
        else if (line.startsWith("line ")) {
          const n = Number(line.slice(5));
          if (n >= 0 && n < TOTAL && seen[n] === 0) {
            seen[n] = 1;
            distinct++;
          }
        }
      }
    }
  })();
  return {
    seen: () => distinct,
    done: () => done,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
      await reading;
    },
  };
}

/**
 * The same printer under supervisord, its output to a file; with `follow`, one `supervisorctl
 * tail -f` attached as adi's `logs -f` is (lost then counts what the follower did not print).
 */
async function supervisordRun(dir: string, follow: boolean): Promise<Figures> {
  const tag = follow ? "sup-follow" : "sup";
  const go = join(dir, `${tag}-go`);
  const report = join(dir, `${tag}-report`);
  const logFile = join(dir, `${tag}-chatty.log`);
  const sup = startSupervisord(join(dir, tag), [
    {
      name: "chatty",
      command: `${BUN} ${PRINTER} ${go} ${report} ${RATE} ${SECS} --linger`,
      extra: [`stdout_logfile=${logFile}`, "stdout_logfile_maxbytes=0", "redirect_stderr=true"],
    },
  ]);
  let tail: ReturnType<typeof supervisorctlTail> | undefined;
  try {
    await until(() => existsSync(join(sup.dir, "supervisor.sock")), 30_000);
    for (let i = 0; i < 3000 && !(await sup.answers()); i++) await Bun.sleep(10);
    if (follow) tail = supervisorctlTail(join(sup.dir, "supervisord.conf"), "chatty");
    await Bun.sleep(1_000); // the printer is up and waiting for `go`; the follower is attached
    const cpu0 = cpuMs(sup.pid);
    writeFileSync(go, "");
    const hasDone = () => (tail ? tail.done() : existsSync(logFile) && readFileSync(logFile, "utf8").endsWith("done\n"));
    await until(() => existsSync(report), 60_000);
    for (let i = 0; i < 1000 && !hasDone(); i++) await Bun.sleep(10);
    const cpu = cpuMs(sup.pid) - cpu0;
    let seen = 0;
    if (tail) seen = tail.seen();
    else {
      const lines = new Set<string>();
      for (const l of readFileSync(logFile, "utf8").split("\n")) if (l.startsWith("line ")) lines.add(l);
      seen = lines.size;
    }
    return { lost: TOTAL - seen, cpu, printerMs: readReport(report), rssAfter: rssKiB([sup.pid]) };
  } finally {
    await tail?.stop();
    await sup.stop();
  }
}

export async function benchLogs(): Promise<Row[]> {
  const tmp = tempDir("adi-bench-logs-");
  try {
    const { fresh: adi, warm } = await adiFollow(tmp.dir);
    const floorCpu = await pipeFloor(tmp.dir);
    // --quick never installs supervisord.
    const none: Figures = { lost: NaN, cpu: NaN, printerMs: NaN, rssAfter: NaN };
    const haveSup = !quick || Bun.which("supervisord") !== null;
    const sup = haveSup ? await supervisordRun(tmp.dir, true) : none;
    const supFile = haveSup ? await supervisordRun(tmp.dir, false) : none;
    const label = `${RATE / 1000}k lines/s for ${SECS} s`;
    const against = (cpu: number, base: number) => `${(cpu / Math.max(base, 1)).toFixed(2)}x`;
    return [
      { figure: `log follow ${label}: lines lost`, adi: `${adi.lost}, again ${warm.lost}`, baseline: `${sup.lost} supervisorctl tail -f, ${supFile.lost} supervisord's file`, ratio: "", target: "0" },
      { figure: `log follow ${label}: supervisor CPU, one follower`, adi: ms(adi.cpu), baseline: `${ms(sup.cpu)} supervisord + tail -f`, ratio: against(adi.cpu, sup.cpu), target: "<= supervisord" },
      { figure: "  the same load again, same daemon", adi: ms(warm.cpu), baseline: `${ms(sup.cpu)} supervisord + tail -f`, ratio: against(warm.cpu, sup.cpu) },
      { figure: "  supervisord writing its file, no follower", adi: "", baseline: ms(supFile.cpu), ratio: `fresh ${against(adi.cpu, supFile.cpu)}, again ${against(warm.cpu, supFile.cpu)}` },
      { figure: "  floor: a compiled Bun program reading the pipes, keeping nothing", adi: "", baseline: ms(floorCpu), ratio: `${against(floorCpu, sup.cpu)} supervisord + tail -f` },
      { figure: `log follow ${label}: supervisor RSS after`, adi: `${mb(adi.rssAfter)}, again ${mb(warm.rssAfter)}`, baseline: `${mb(sup.rssAfter)} supervisord + tail -f`, ratio: "" },
      { figure: `log follow ${label}: printer run time`, adi: ms(adi.printerMs), baseline: `${ms(sup.printerMs)} supervisord + tail -f`, ratio: "", target: `${SECS * 1000} ms = no backpressure` },
    ];
  } finally {
    tmp.cleanup();
  }
}

if (import.meta.main) printTable(await benchLogs());
