import { readFileSync, statSync } from "node:fs";

export interface ProcStat {
  pid: number;
  sid: number;
  /** Start time in clock ticks since boot: with the pid, it names one process for good. */
  startTicks: number;
}

/** /proc/<pid>/stat, parsed past the command name (which may hold spaces and parentheses); null if gone. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  // Fields after "pid (comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
  const fields = text.slice(close + 2).split(" ");
  const sid = Number(fields[3]);
  const startTicks = Number(fields[19]);
  if (!Number.isInteger(sid) || !Number.isFinite(startTicks)) return null;
  return { pid, sid, startTicks };
}

/** The (effective) uid owning /proc/<pid>; null if the process is gone. */
export function procOwner(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return null;
  }
}
