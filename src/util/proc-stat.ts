import { readdirSync, readFileSync, statSync } from "node:fs";

/** The fields of /proc/<pid>/stat that adi uses (Linux only). */
export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** CPU time used so far, user and system, in clock ticks (USER_HZ, 100 on Linux). */
  utime: number;
  stime: number;
  /** Field 22: start time in clock ticks since boot; with the pid it names one process for good. */
  startTime: number;
}

/**
 * /proc/<pid>/stat parsed past the command name (which may hold spaces and
 * parentheses); null when the process is gone or there is no /proc.
 */
export function readProcStat(pid: number): ProcStat | null {
  if (process.platform !== "linux") return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  // After "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
  const f = text.slice(close + 2).split(" ");
  return { state: f[0] ?? "?", ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), utime: Number(f[11]), stime: Number(f[12]), startTime: Number(f[19]) };
}

/** Every process that is alive (not a zombie) with its stat; empty without /proc. */
export function liveProcesses(): Array<{ pid: number; stat: ProcStat }> {
  if (process.platform !== "linux") return [];
  const out: Array<{ pid: number; stat: ProcStat }> = [];
  for (const entry of readdirSync("/proc")) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry);
    const stat = readProcStat(pid);
    if (stat && stat.state !== "Z" && stat.state !== "X") out.push({ pid, stat });
  }
  return out;
}

/** The (effective) uid owning /proc/<pid>; null if the process is gone. */
export function procOwner(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
}
