import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { liveProcesses } from "../../src/util/proc-stat.ts";
import { join } from "node:path";
import { TestDaemon } from "../helpers/daemon.ts";
import { environOf, waitFor } from "../helpers/env.ts";

/** Live (non-zombie) processes whose session or group is `sid`. */
export { sessionMembers as sessionProcesses } from "../../src/daemon/services/process-group.ts";

export { environOf } from "../helpers/env.ts";

/** Live processes started by the daemon of this test (they carry its socket in their environment). */
export function serviceProcesses(d: TestDaemon, service?: string): number[] {
  return serviceProcessStats(d, service).map(({ pid }) => pid);
}

function serviceProcessStats(d: TestDaemon, service?: string) {
  const marker = `ADI_DAEMON_SOCKET=${d.socket}`;
  return liveProcesses().filter(({ pid }) => {
    const env = environOf(pid);
    if (!env.includes(marker)) return false;
    // The daemon itself has the socket variable too, but no service name.
    return service === undefined ? env.some((v) => v.startsWith("ADI_SERVICE_NAME=")) : env.includes(`ADI_SERVICE_NAME=${service}`);
  });
}

/** Sessions (service generations) alive for a service. */
export function serviceSessions(d: TestDaemon, service: string): Set<number> {
  return new Set(serviceProcessStats(d, service).map(({ stat }) => stat.session));
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

/** A file's text, or "" while it does not exist. */
export const readIfThere = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");

/** The pids a service wrote to `path`, one a line, once there are `count`; each is killed at `d`'s cleanup whatever happens. */
export async function pidsIn(d: TestDaemon, path: string, count: number): Promise<number[]> {
  await waitFor(() => readIfThere(path).split("\n").filter(Boolean).length >= count, 5_000, `${count} pid(s) in ${path}`);
  const pids = readIfThere(path).split("\n").filter(Boolean).map(Number);
  for (const pid of pids) d.extraPids.add(pid);
  return pids;
}
