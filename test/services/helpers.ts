import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TestDaemon } from "../helpers/daemon.ts";
import { waitFor } from "../helpers/env.ts";

/** Live (non-zombie) processes whose session or group is `sid`. */
export function sessionProcesses(sid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] === "Z" || f[0] === "X") continue;
      if (Number(f[3]) === sid || Number(f[2]) === sid) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

/** Live processes started by the daemon of this test (they carry its socket in their environment). */
export function serviceProcesses(d: TestDaemon, service?: string): number[] {
  const pids: number[] = [];
  const marker = `ADI_DAEMON_SOCKET=${d.socket}`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "Z" || state === "X") continue;
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (!env.includes(marker)) continue;
      // The daemon itself has the socket variable too, but no service name.
      if (service === undefined ? !env.some((v) => v.startsWith("ADI_SERVICE_NAME=")) : !env.includes(`ADI_SERVICE_NAME=${service}`)) continue;
      pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/** Sessions (service generations) alive for a service. */
export function serviceSessions(d: TestDaemon, service: string): Set<number> {
  const sids = new Set<number>();
  for (const pid of serviceProcesses(d, service)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      sids.add(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]));
    } catch {}
  }
  return sids;
}

const daemons: TestDaemon[] = [];

/** A test daemon with an optional daemon.toml, cleaned by `cleanupDaemons`. */
export function newDaemon(opts: { daemonToml?: string } = {}): TestDaemon {
  const d = new TestDaemon();
  if (opts.daemonToml !== undefined) {
    mkdirSync(d.home, { recursive: true, mode: 0o700 });
    writeFileSync(join(d.home, "daemon.toml"), opts.daemonToml, { mode: 0o600 });
  }
  daemons.push(d);
  return d;
}

/** Stop every daemon, then KILL anything its services left (even when a test failed half-way). */
export async function cleanupDaemons(): Promise<void> {
  await Promise.all(
    daemons.splice(0).map(async (d) => {
      await d.cleanup().catch(() => {});
      for (const pid of serviceProcesses(d)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }),
  );
}

export interface ServiceJson {
  name: string;
  state: string;
  pid: number | null;
  uptime_secs: number;
  restarts: number;
  last_error: string | null;
  last_exit_code: number | null;
}

export async function servicesJson(d: TestDaemon): Promise<ServiceJson[]> {
  const r = await d.cli(["daemon", "services", "--json"]);
  if (r.code !== 0) throw new Error(`services --json failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function serviceInfo(d: TestDaemon, name: string) {
  const client = d.client();
  try {
    return (await client.listServices()).find((s) => s.name === name);
  } finally {
    client.close();
  }
}

export async function waitForState(d: TestDaemon, name: string, state: number, timeoutMs = 5_000) {
  let last: unknown;
  await waitFor(
    async () => {
      const info = await serviceInfo(d, name);
      last = info?.state;
      return info?.state === state;
    },
    timeoutMs,
    `${name} to reach state ${state} (last ${String(last)})`,
  );
  return (await serviceInfo(d, name))!;
}
