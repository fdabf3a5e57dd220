import { readFileSync } from "node:fs";
import { liveProcesses, readProcStat } from "../../src/util/proc-stat.ts";
import { environOf } from "../services/helpers.ts";

/** Resident set size of a process in bytes (VmRSS), or null when it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

/** p-th percentile (0..100) of already sorted numbers. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Live (non-zombie) processes whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  return liveProcesses()
    .filter(({ stat }) => stat.ppid === ppid)
    .map(({ pid }) => pid);
}

/** Pids of daemons (`adi daemon run`-like processes) serving this ADI_HOME, found through /proc. */
export function daemonsOf(home: string): number[] {
  return liveProcesses()
    .filter(({ pid }) => {
      const env = environOf(pid);
      if (!env.includes(`ADI_HOME=${home}`) || env.some((v) => v.startsWith("ADI_SERVICE_NAME="))) return false;
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        const i = argv.indexOf("daemon");
        return i >= 0 && argv[i + 1] === "run";
      } catch {
        return false;
      }
    })
    .map(({ pid }) => pid);
}

/** CPU seconds (user + system) a process has used so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  const stat = readProcStat(pid);
  return stat ? (stat.utime + stat.stime) / 100 : Number.NaN;
}
