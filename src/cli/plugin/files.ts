import { chmodSync, cpSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AdiPaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";

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
 * and lose group/other write.
 */
function normalizeModes(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const entry of readdirSync(path)) normalizeModes(join(path, entry));
  } else {
    chmodSync(path, (st.mode & 0o755) | 0o444);
  }
}

/** Copy `src` to `pluginDir/name`, replacing an earlier install only once the copy is complete. */
export function copyPlugin(src: string, paths: AdiPaths, name: string): string {
  const dest = join(paths.pluginDir, name);
  const tmp = join(paths.pluginDir, `.${name}.install-${process.pid}`);
  const old = join(paths.pluginDir, `.${name}.old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    cpSync(src, tmp, { recursive: true, dereference: false, verbatimSymlinks: true, errorOnExist: true });
    normalizeModes(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new AdiError(ErrorCode.INTERNAL, `copying ${src} to ${dest} failed: ${(err as Error).message}`);
  }
  let hadOld = false;
  try {
    renameSync(dest, old);
    hadOld = true;
  } catch {}
  renameSync(tmp, dest);
  if (hadOld) rmSync(old, { recursive: true, force: true });
  return dest;
}
