import { readProcStat } from "./proc-stat.ts";

/**
 * Is this pid a live process? A zombie counts as gone: it has exited, and
 * where pid 1 does not reap (containers, sandboxes) it can linger for ever.
 * Signal 0 checks existence without signalling anyone.
 */
export function processAlive(pid: number): boolean {
  if (process.platform === "linux") {
    const stat = readProcStat(pid);
    return stat !== null && stat.state !== "Z" && stat.state !== "X";
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
