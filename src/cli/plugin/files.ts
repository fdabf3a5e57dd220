import { chmodSync, closeSync, cpSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync } from "node:fs";
import { join, sep } from "node:path";
import type { AdiPaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { tryAcquireLock } from "../../daemon/instance.ts";

/** ADI_HOME and the plugin dir, created 0700 if the daemon has not run yet (it opens them up itself when needed). */
export function ensurePluginDir(paths: AdiPaths): void {
  for (const dir of [paths.home, paths.pluginDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${dir} is not a directory (a symlink there is refused)`);
  }
}

/**
 * Installed plugins are readable by ADI_USER (their services may run as it)
 * but writable only by the owner: dirs 0755, files keep their execute bits
 * and lose group/other write, setuid, setgid and sticky. A symlink must lead
 * to something inside the copy: one that leads out, or nowhere, would run
 * (or load) whatever someone later puts at its target.
 */
function normalizeTree(path: string, root: string, shown: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      const what = (err as NodeJS.ErrnoException).code === "ELOOP" ? "a loop of links" : "which does not exist";
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${shown} is a symlink to ${readlinkSync(path)}, ${what}: a plugin's links must lead to files inside it`);
    }
    if (real !== root && !real.startsWith(root + sep)) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${shown} is a symlink to ${readlinkSync(path)}, outside the plugin: a plugin's links must lead to files inside it (copy what it needs)`);
    }
    return;
  }
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const entry of readdirSync(path)) normalizeTree(join(path, entry), root, join(shown, entry));
  } else {
    chmodSync(path, (st.mode & 0o755) | 0o444);
  }
}

/** How long an install or remove waits for another one to finish. */
const PLUGIN_LOCK_WAIT_MS = 60_000;

/**
 * Run `fn` holding `pluginDir/.lock` (flock): installs and removes one at a
 * time. Two at once read approvals.json, each changed its copy, and the
 * second write lost the first's decisions (25 of 30 parallel pairs lost one);
 * two installs of one name could pair the approvals of one copy with the
 * other. The lock goes with the process, whatever ends it.
 */
export async function withPluginLock<T>(paths: AdiPaths, fn: () => Promise<T> | T): Promise<T> {
  const lockFile = join(paths.pluginDir, ".lock");
  const deadline = performance.now() + PLUGIN_LOCK_WAIT_MS;
  let fd = tryAcquireLock(lockFile);
  while (fd === null) {
    if (performance.now() > deadline) throw new AdiError(ErrorCode.UNAVAILABLE, `another adi plugin install or remove holds ${lockFile}: try again once it is done`);
    await Bun.sleep(20);
    fd = tryAcquireLock(lockFile);
  }
  try {
    return await fn();
  } finally {
    closeSync(fd);
  }
}

/** A copy of a plugin, staged where only this user can reach it until commitPlugin puts it in place. */
export interface StagedPlugin {
  /** The 0700 directory that holds the copy. */
  readonly stage: string;
  /** The copy itself. */
  readonly copy: string;
}

/**
 * Copy `src` into a new 0700 directory in the plugin dir, then make its modes
 * safe and check its links. Until then the copy has the source's modes, a
 * setuid file or a 0777 directory among them, so nobody else may reach it:
 * a copy made in the open let any local user run a setuid-root copy, or
 * plant files in it, during the install.
 */
export function stagePlugin(src: string, paths: AdiPaths, name: string): StagedPlugin {
  const stage = join(paths.pluginDir, `.${name}.install-${process.pid}`);
  // Named as it will be: a relative link resolves the same here as in place (one through `../plugin/` passed the check when the copy was called that).
  const copy = join(stage, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { mode: 0o700 });
  chmodSync(stage, 0o700); // whatever the umask
  try {
    let special: string | null = null;
    cpSync(src, copy, {
      recursive: true,
      dereference: false,
      verbatimSymlinks: true,
      errorOnExist: true,
      // A FIFO, socket or device would fail the copy with an errno that names the wrong thing.
      filter: (from) => {
        const st = lstatSync(from);
        if (st.isFile() || st.isDirectory() || st.isSymbolicLink()) return true;
        special ??= from;
        return false;
      },
    });
    if (special !== null) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${special} is a FIFO, socket or device: a plugin holds only files, directories and links`);
    normalizeTree(copy, realpathSync(copy), name);
  } catch (err) {
    rmSync(stage, { recursive: true, force: true });
    if (err instanceof AdiError) throw err;
    throw new AdiError(ErrorCode.INTERNAL, `copying ${src} to ${join(paths.pluginDir, name)} failed: ${(err as Error).message}`);
  }
  return { stage, copy };
}

export function discardStaged(staged: StagedPlugin): void {
  rmSync(staged.stage, { recursive: true, force: true });
}

/** Put a staged copy at `pluginDir/name`, replacing an earlier install only now that the copy is complete. */
export function commitPlugin(staged: StagedPlugin, paths: AdiPaths, name: string): string {
  const dest = join(paths.pluginDir, name);
  const old = join(paths.pluginDir, `.${name}.old-${process.pid}`);
  let hadOld = false;
  try {
    renameSync(dest, old);
    hadOld = true;
  } catch {}
  renameSync(staged.copy, dest);
  discardStaged(staged);
  if (hadOld) rmSync(old, { recursive: true, force: true });
  return dest;
}
