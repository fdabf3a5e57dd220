import { chmodSync, lstatSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { AdiPaths } from "../../config.ts";
import { isAbstractSocket } from "../../config.ts";

/**
 * When plugin services run as ADI_USER they must reach the socket and their
 * plugin directory. Then ADI_HOME and the plugin dir become 0711 (enter, not
 * list), installed plugins are 0755, and the socket 0666: SO_PEERCRED, not the
 * file mode, is what refuses strangers (before any request is read). Widening
 * a mode after bind is safe (only narrowing one races). Returns warnings for
 * parents of the socket that ADI_USER cannot enter.
 */
export function shareWithServiceUser(paths: AdiPaths): string[] {
  const warnings: string[] = [];
  chmodSync(paths.home, 0o711);
  chmodSync(paths.pluginDir, 0o711);
  if (isAbstractSocket(paths.socket)) return warnings;
  try {
    if (lstatSync(paths.socket).isSocket()) chmodSync(paths.socket, 0o666);
  } catch {
    // Not bound yet: the server binds it with the wider umask.
  }
  const socketDir = dirname(paths.socket);
  if (socketDir === paths.home) {
    // ADI_HOME itself was just opened up; its parents are not ours to change.
  } else {
    warnings.push(...unsearchable(socketDir, paths.user));
  }
  for (let dir = dirname(socketDir); ; dir = dirname(dir)) {
    warnings.push(...unsearchable(dir, paths.user));
    if (dir === "/") break;
  }
  return warnings;
}

function unsearchable(dir: string, user: string): string[] {
  try {
    if ((statSync(dir).mode & 0o001) === 0) {
      return [`services running as ${user} cannot reach the socket: ${dir} is not searchable by others (chmod o+x it, or move ADI_HOME)`];
    }
  } catch {}
  return [];
}

/** Run `fn` (the bind) under `mask`, so the socket has its final mode from the first instant. */
export function withUmask<T>(mask: number, fn: () => T): T {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}
