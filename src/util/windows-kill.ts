/**
 * Windows has no process groups to signal and no SIGTERM for console
 * programs: the equivalent of "TERM the group, wait, KILL the group" is
 * `taskkill /T` (the process and its descendants; asks them to close) and
 * then `taskkill /T /F` (terminates the tree). Used by the service stopper
 * on Windows only.
 */

/** argv of the taskkill call for the tree rooted at `pid`; `force` = terminate (/F). */
export function taskkillArgv(pid: number, force: boolean): string[] {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`not a pid: ${pid}`);
  return ["taskkill", "/PID", String(pid), "/T", ...(force ? ["/F"] : [])];
}

/** Stop the process tree rooted at `pid`; KILL forces, any other signal asks. Errors (already gone) are ignored. */
export function killTreeWindows(pid: number, signal: NodeJS.Signals): void {
  try {
    Bun.spawnSync(taskkillArgv(pid, signal === "SIGKILL"), { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  } catch {
    // taskkill missing or the pid is gone: nothing left to stop.
  }
}
