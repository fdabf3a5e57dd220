/**
 * Service supervision beside runit, supervisord and PM2, all measured in the same run the
 * same way: every service is `sh -c 'echo $$ > DIR/NAME.pid; exec sleep 1000'`,
 * and "running" means its pid file exists (written by the new process itself).
 *
 * - restart after kill -9: SIGKILL a service that has been up for > 1 s (runsv
 *   delays restarts of services younger than 1 s; adi and PM2 restart a first
 *   crash at once), time until the new pid is written. Median over 15
 *   services, each killed once (its first crash).
 * - start 100: supervisor start -> all 100 pid files. adi: the daemon started
 *   on an ADI_HOME whose 100 services are wanted and in `auto_start` (defined
 *   and run once, untimed, then the daemon stopped cleanly); runit: runsvdir
 *   started on 100 service directories; supervisord: started with 100
 *   programs; PM2: `pm2 start` of a 100-app ecosystem file.
 * - RSS with 5 / 100 services: the adi daemon, the PM2 daemon, runsvdir plus
 *   its runsv processes (the supervision cost, not the services).
 * - stop 100: each supervisor's own command-line tool, as a user stops them
 *   all (its start-up included) -> none of the 100 processes is alive.
 *   adi: `adi daemon stop` with the 100 names; runit: `sv down` with the 100
 *   service directories; supervisord: `supervisorctl stop all`; PM2:
 *   `pm2 stop all`.
 *
 * runit, supervisord and PM2 are installed when missing (`apt-get install -y runit supervisor`,
 * `npm install pm2` into $TMPDIR/adi-bench-pm2). Usage: bun bench/services.ts
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonClient } from "../src/client/index.ts";
import { killSession } from "../src/daemon/services/process-group.ts";
import { processAlive } from "../src/util/process-alive.ts";
import { childrenOf } from "../test/hardening/lib.ts";
import { adiBinary, adiEnv, ensureApt, mb, ms, printTable, ratio, rssKiB, run, summarize, tempDir, until, type Row } from "./lib.ts";
import { ensureSupervisord, startSupervisord, type Supervisord } from "./supervisord.ts";


const quick = process.argv.includes("--quick");
/** The "100 services" figures; --quick uses fewer. */
const MANY = quick ? 10 : 100;
/** Services killed once each for the restart figure. */
const RESTART_SAMPLES = quick ? 5 : 15;

/** Peers to run; --quick never installs anything and skips peers that are missing. */
function ensureTools(): { runit: boolean; supervisord: boolean; pm2: string | null } {
  const prefix = join(tmpdir(), "adi-bench-pm2");
  const pm2 = join(prefix, "node_modules", ".bin", "pm2");
  if (quick) return { runit: !!Bun.which("runsvdir"), supervisord: !!Bun.which("supervisord"), pm2: existsSync(pm2) ? pm2 : null };
  ensureApt("runsvdir", "runit");
  ensureSupervisord();
  if (!existsSync(pm2)) {
    console.error(`installing pm2 into ${prefix} (npm install pm2)…`);
    mkdirSync(prefix, { recursive: true });
    if (run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, "pm2"]) !== 0) throw new Error("could not install pm2");
  }
  return { runit: true, supervisord: true, pm2 };
}

const serviceScript = (dir: string, name: string) => `echo $$ > ${dir}/${name}.pid; exec sleep 1000`;

function readPid(file: string): number {
  try {
    return Number.parseInt(readFileSync(file, "utf8"), 10) || 0;
  } catch {
    return 0;
  }
}

/** Kill -9 each service (one at a time) and time until its replacement writes its pid. */
async function restartLatency(pidDir: string, names: string[]): Promise<number> {
  const samples: number[] = [];
  for (const name of names) {
    const file = join(pidDir, `${name}.pid`);
    const old = readPid(file);
    const t0 = performance.now();
    process.kill(old, "SIGKILL");
    await until(() => {
      const pid = readPid(file);
      return pid !== 0 && pid !== old;
    });
    samples.push(performance.now() - t0);
  }
  return summarize(samples).median;
}

interface Supervisor {
  /** Start `count` services; resolves when all are running (pid files written). Returns the ms taken. */
  start(names: string[]): Promise<number>;
  /** The command that stops these services (the supervisor keeps running). */
  stopCommand(names: string[]): { argv: string[]; env?: Record<string, string | undefined> };
  rss(): number;
  stop(): Promise<void>;
}

async function adiSupervisor(dir: string, pidDir: string): Promise<Supervisor> {
  const adi = adiBinary();
  const home = join(dir, "adi-home");
  const env = adiEnv(home);
  const connect = () => new DaemonClient({ socketPath: join(home, "daemon.sock"), env, launcher: [adi], timeoutMs: 60_000 });
  let client = connect();
  await client.ensureRunning();
  let daemonPid = (await client.status()).pid;
  const allRunning = (names: string[]) => until(() => names.every((n) => existsSync(join(pidDir, `${n}.pid`))));
  return {
    async start(names) {
      // Untimed: define the services and run them once, then stop the daemon
      // cleanly; they stay wanted (state.json) and are listed in auto_start.
      await Promise.all(
        names.map((name) =>
          client.startService(name, { command: "sh", args: ["-c", serviceScript(pidDir, name)], restartOnFailure: true, maxRestarts: 100 }),
        ),
      );
      await allRunning(names);
      await client.shutdown(false);
      client.close();
      await until(() => !processAlive(daemonPid));
      for (const n of names) rmSync(join(pidDir, `${n}.pid`), { force: true });
      writeFileSync(join(home, "daemon.toml"), `auto_start = [${names.map((n) => JSON.stringify(n)).join(", ")}]\n`);
      // Timed, like runsvdir on N service directories: daemon start -> all N running.
      const t0 = performance.now();
      client = connect();
      await client.ensureRunning();
      await allRunning(names);
      const elapsed = performance.now() - t0;
      daemonPid = (await client.status()).pid;
      return elapsed;
    },
    rss: () => rssKiB([daemonPid]),
    stopCommand: (names) => ({ argv: [adi, "daemon", "stop", ...names], env }),
    async stop() {
      await client.shutdown(false);
      client.close();
    },
  };
}

async function runitSupervisor(dir: string, pidDir: string): Promise<Supervisor> {
  const svDir = join(dir, "runit");
  mkdirSync(svDir, { recursive: true });
  let runsvdir: ReturnType<typeof Bun.spawn> | null = null;
  return {
    async start(names) {
      for (const name of names) {
        mkdirSync(join(svDir, name), { recursive: true });
        const runFile = join(svDir, name, "run");
        writeFileSync(runFile, `#!/bin/sh\n${serviceScript(pidDir, name)}\n`);
        chmodSync(runFile, 0o755);
      }
      const t0 = performance.now();
      runsvdir = Bun.spawn(["runsvdir", "-P", svDir], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
      await until(() => names.every((n) => existsSync(join(pidDir, `${n}.pid`))));
      return performance.now() - t0;
    },
    rss: () => (runsvdir ? rssKiB([runsvdir.pid, ...childrenOf(runsvdir.pid)]) : 0),
    stopCommand: (names) => ({ argv: ["sv", "down", ...names.map((n) => join(svDir, n))] }),
    async stop() {
      if (!runsvdir) return;
      // -P puts each runsv in a session of its own: killing runsvdir's session
      // leaves them running. Note them, HUP runsvdir (it TERMs each runsv,
      // which stops its service), then KILL whatever is left of each session.
      const runsvs = childrenOf(runsvdir.pid);
      runsvdir.kill("SIGHUP");
      await Promise.race([runsvdir.exited, Bun.sleep(5_000)]);
      await killSession(runsvdir.pid, 5_000);
      for (const pid of runsvs) await killSession(pid, 5_000);
    },
  };
}

async function supervisordSupervisor(dir: string, pidDir: string): Promise<Supervisor> {
  let sup: Supervisord | null = null;
  return {
    async start(names) {
      const t0 = performance.now();
      sup = startSupervisord(dir, names.map((name) => ({ name, command: `/bin/sh -c '${serviceScript(pidDir, name)}'`, extra: ["startsecs=0"] })));
      await until(() => names.every((n) => existsSync(join(pidDir, `${n}.pid`))));
      return performance.now() - t0;
    },
    rss: () => (sup ? rssKiB([sup.pid]) : 0),
    stopCommand: () => ({ argv: ["supervisorctl", "-c", join(dir, "supervisord.conf"), "stop", "all"] }),
    async stop() {
      await sup?.stop();
    },
  };
}

async function pm2Supervisor(dir: string, pidDir: string, pm2: string): Promise<Supervisor> {
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, PM2_HOME: join(dir, "pm2-home") };
  run([pm2, "ping"], env); // starts the PM2 daemon
  const daemonPid = () => readPid(join(env.PM2_HOME, "pm2.pid"));
  return {
    async start(names) {
      const file = join(dir, `eco-${names.length}.json`);
      const apps = names.map((name) => ({ name, script: "/bin/sh", args: ["-c", serviceScript(pidDir, name)], interpreter: "none", autorestart: true }));
      writeFileSync(file, JSON.stringify({ apps }));
      const t0 = performance.now();
      run([pm2, "start", file], env);
      await until(() => names.every((n) => existsSync(join(pidDir, `${n}.pid`))));
      return performance.now() - t0;
    },
    rss: () => rssKiB([daemonPid()]),
    stopCommand: () => ({ argv: [pm2, "stop", "all"], env }),
    async stop() {
      const pid = daemonPid();
      run([pm2, "kill"], env);
      if (pid > 0) {
        try {
          process.kill(pid, "SIGKILL"); // `pm2 kill` normally got it already
        } catch {}
      }
    },
  };
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Run the supervisor's stop command for `names` and time until none of their processes is alive. */
async function stopLatency(sup: Supervisor, pidDir: string, names: string[]): Promise<number> {
  const pids = names.map((n) => readPid(join(pidDir, `${n}.pid`)));
  const { argv, env } = sup.stopCommand(names);
  const t0 = performance.now();
  const cmd = Bun.spawn(argv, { env: env ?? process.env, stdout: "ignore", stderr: "inherit" });
  await until(() => pids.every((pid) => !processAlive(pid)));
  const elapsed = performance.now() - t0;
  await cmd.exited;
  return elapsed;
}

interface Figures {
  restartMs: number;
  start100Ms: number;
  stop100Ms: number;
  rss5: number;
  rss100: number;
}

async function measure(make: (dir: string, pidDir: string) => Promise<Supervisor>): Promise<Figures> {
  const tmp = tempDir("adi-bench-svc-");
  const pidDir = join(tmp.dir, "pids");
  mkdirSync(pidDir);
  try {
    // 5 services: RSS.
    const five = await make(join(tmp.dir, "five"), pidDir);
    let rss5: number;
    try {
      await five.start(names("a", 5));
      await Bun.sleep(500);
      rss5 = five.rss();
    } finally {
      await five.stop();
    }
    // Restart latency: one kill per service (each a first crash), over enough services that the
    // median is steady (with 5 it moved by a third from run to run).
    const crashing = await make(join(tmp.dir, "crashing"), pidDir);
    let restartMs: number;
    try {
      await crashing.start(names("k", RESTART_SAMPLES));
      await Bun.sleep(1_200); // older than runsv's 1 s restart guard
      restartMs = await restartLatency(pidDir, names("k", RESTART_SAMPLES));
    } finally {
      await crashing.stop();
    }
    // 100 services: start time and RSS.
    const hundred = await make(join(tmp.dir, "hundred"), pidDir);
    try {
      const start100Ms = await hundred.start(names("b", MANY));
      await Bun.sleep(500);
      const rss100 = hundred.rss();
      const stop100Ms = await stopLatency(hundred, pidDir, names("b", MANY));
      return { restartMs, start100Ms, stop100Ms, rss5, rss100 };
    } finally {
      await hundred.stop();
    }
  } finally {
    tmp.cleanup();
  }
}

export async function benchServices(): Promise<Row[]> {
  const tools = ensureTools();
  const adi = await measure(adiSupervisor);
  const peers: [string, Figures][] = [];
  if (tools.runit) peers.push(["runit", await measure(runitSupervisor)]);
  if (tools.supervisord) peers.push(["supervisord", await measure(supervisordSupervisor)]);
  const pm2 = tools.pm2;
  if (pm2) peers.push(["PM2", await measure((dir, pidDir) => pm2Supervisor(dir, pidDir, pm2))]);
  const rows: Row[] = [];
  if (peers.length === 0) {
    rows.push(
      { figure: "restart after kill -9", adi: ms(adi.restartMs), baseline: "(no peer installed)", ratio: "" },
      { figure: `start ${MANY} services`, adi: ms(adi.start100Ms), baseline: "", ratio: "" },
      { figure: `stop ${MANY} services`, adi: ms(adi.stop100Ms), baseline: "", ratio: "" },
    );
  }
  for (const [label, base] of peers) {
    rows.push(
      { figure: `restart after kill -9 (vs ${label})`, adi: ms(adi.restartMs), baseline: ms(base.restartMs), ratio: ratio(adi.restartMs, base.restartMs), target: label === "runit" ? "<= 1.0x runit" : "" },
      { figure: `start ${MANY} services (vs ${label})`, adi: ms(adi.start100Ms), baseline: ms(base.start100Ms), ratio: ratio(adi.start100Ms, base.start100Ms), target: label === "runit" ? "<= 1.0x runit" : "" },
      { figure: `stop ${MANY} services (vs ${label})`, adi: ms(adi.stop100Ms), baseline: ms(base.stop100Ms), ratio: ratio(adi.stop100Ms, base.stop100Ms) },
      { figure: `supervisor RSS, 5 services (vs ${label})`, adi: mb(adi.rss5), baseline: mb(base.rss5), ratio: ratio(adi.rss5, base.rss5) },
      { figure: `supervisor RSS, ${MANY} services (vs ${label})`, adi: mb(adi.rss100), baseline: mb(base.rss100), ratio: ratio(adi.rss100, base.rss100) },
    );
  }
  return rows;
}

if (import.meta.main) printTable(await benchServices());
