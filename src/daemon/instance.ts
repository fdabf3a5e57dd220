import { chmodSync, closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { AdiPaths } from "../config.ts";
import { isRelativePath, PATH_VARIABLES, type Env } from "../protocol/transport.ts";
import { isAbstractSocket, isNamedPipe } from "../config.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { tryLockExclusive } from "./native.ts";

/**
 * Exactly one daemon per ADI_HOME: an flock on daemon.lock held for the
 * daemon's life (the kernel drops it on any death, kill -9 included), the
 * socket and PID file claimed only by the lock holder.
 */

/**
 * Create a directory 0700, refusing a symlink or another user's directory.
 * An existing one is tightened to 0700 too, unless `onlyIfCreated`: the
 * directory of a file the environment may put anywhere (ADI_DAEMON_PID,
 * ADI_DAEMON_LOG, ADI_DAEMON_SOCKET) is not ours to tighten (with
 * ADI_DAEMON_PID=/tmp/adi.pid a daemon run as root made /tmp 0700, sticky bit
 * gone); the files in it are 0600 and the socket is bound under a 0177 umask.
 * It must still be this user's (for root, any directory is).
 */
function ensurePrivateDir(path: string, onlyIfCreated = false): void {
  let created: string | undefined;
  try {
    created = mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    // A file where a directory must be (ADI_HOME set to a file), or no right to create it: say which, not a stack trace.
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EEXIST" || e.code === "ENOTDIR" ? "a file is in the way (it, or a directory above it, is not a directory)" : e.message;
    throw new AdiError(e.code === "EACCES" || e.code === "EPERM" ? ErrorCode.PERMISSION_DENIED : ErrorCode.FAILED_PRECONDITION, `cannot create the directory ${path}: ${why}`);
  }
  // mkdir's mode passed through the umask: a directory made here is set again.
  if ((checkOwnDir(path) & 0o777) !== 0o700 && (!onlyIfCreated || created !== undefined)) chmodSync(path, 0o700);
}

/** The mode of `path`, which must be a directory (not a symlink) of this user. */
function checkOwnDir(path: string): number {
  const st = lstatSync(path);
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${path} is not a directory (a symlink there is refused)`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new AdiError(ErrorCode.PERMISSION_DENIED, `${path} belongs to uid ${st.uid}, not to this user (${uid})`);
  }
  return st.mode;
}

/**
 * ADI_DAEMON_PID, ADI_DAEMON_LOG and ADI_DAEMON_SOCKET, when set, must be
 * absolute for a daemon run by hand. A relative one names another file in
 * every working directory: `adi daemon start` resolves them against its own
 * before it spawns the daemon (client/launch.ts: the daemon runs in /), but
 * what a hand-run daemon was given is refused rather than guessed at. A
 * relative ADI_HOME is this directory (main.ts resolves it).
 */
function checkAbsolute(env: Env): void {
  for (const variable of PATH_VARIABLES) {
    if (variable === "ADI_HOME") continue; // a relative home is this directory: main.ts resolves it
    const path = env[variable];
    if (isRelativePath(variable, path)) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${variable} must be an absolute path, got ${JSON.stringify(path)}`);
  }
}

/**
 * ADI_HOME and its own subdirectories are made 0700 on every start (they
 * become 0711 again once isolation shares them: privilege/socket-access.ts);
 * the directories of the PID file, the daemon log and the socket are only
 * created when missing, unless they are one of those. `tighten` false: only
 * create what is missing. That is all a daemon may do before it holds the
 * lock: one that then finds another running must leave the running one's
 * modes alone (made 0700 under it, its plugin services, running as ADI_USER,
 * could no longer reach the socket or their own binaries).
 */
export function preparePaths(paths: AdiPaths, tighten = true): void {
  checkAbsolute(process.env);
  const layout = [paths.home, paths.logDir, paths.serviceLogDir, paths.pluginDir];
  for (const dir of layout) ensurePrivateDir(dir, !tighten);
  const elsewhere = [dirname(paths.pidFile), dirname(paths.daemonLog)];
  if (!isAbstractSocket(paths.socket) && !isNamedPipe(paths.socket)) elsewhere.push(dirname(paths.socket));
  for (const dir of elsewhere) if (!layout.includes(dir)) ensurePrivateDir(dir, true);
}

/**
 * Open the lock file (never through a symlink) and try to take the lock.
 * Windows has no flock: there the named pipe is the lock (libuv binds a pipe
 * name with FILE_FLAG_FIRST_PIPE_INSTANCE, so a second daemon's listen fails),
 * and the file is only opened.
 */
export function tryAcquireLock(lockFile: string, platform: NodeJS.Platform = process.platform): number | null {
  const fd = openSync(lockFile, constants.O_RDWR | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600);
  if (platform === "win32") return fd;
  if (tryLockExclusive(fd)) return fd;
  closeSync(fd);
  return null;
}

/** Does something answer on this socket path? (tailscale safesocket: dial before unlinking.) */
export async function socketAnswers(address: string): Promise<boolean> {
  try {
    const socket = await Bun.connect({ unix: address, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove a stale socket file left by a daemon that died without cleanup.
 * Only a socket or a symlink is removed (unlinking a symlink never touches
 * its target); anything else at the path is an error for the user to fix.
 */
export async function clearStaleSocket(socketPath: string, address: string): Promise<void> {
  // No file to clear: abstract sockets have none, a pipe vanishes with its server.
  if (isAbstractSocket(socketPath) || isNamedPipe(socketPath)) return;
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return;
  }
  if (await socketAnswers(address)) {
    throw new AdiError(ErrorCode.ALREADY_EXISTS, `another process is serving ${socketPath}`);
  }
  if (!st.isSocket() && !st.isSymbolicLink()) {
    throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${socketPath} exists and is not a socket; remove it`);
  }
  unlinkSync(socketPath);
}

/** Write the PID file atomically: a new 0600 file renamed over the path (replaces, never follows, a symlink). */
export function writePidFile(path: string, pid: number): void {
  const tmp = `${path}.${pid}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function readPidFile(path: string): number | null {
  try {
    const st = lstatSync(path);
    if (!st.isFile()) return null;
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Remove the PID file only if it is still ours. */
export function removePidFile(path: string, pid: number): void {
  if (readPidFile(path) === pid) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  }
}
