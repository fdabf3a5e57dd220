import { readFileSync } from "node:fs";

/**
 * Is this pid a live process? A zombie counts as gone: it has exited, and
 * where pid 1 does not reap (containers, sandboxes) it can linger for ever.
 * Signal 0 checks existence without signalling anyone.
 */
export function processAlive(pid: number): boolean {
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // The state follows the parenthesised command name, which may contain spaces.
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
