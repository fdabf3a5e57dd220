import { AdiError, ErrorCode } from "../errors.ts";

/**
 * Where the daemon listens, per platform (DESIGN §3, §4). Pure functions of
 * (env, platform, home) so the client, the daemon and the tests agree, and so
 * the Windows and macOS choices can be unit-tested on Linux. The client
 * library and the CLI's fast path use this, so node: modules are loaded only
 * when needed: node:path for unusual paths and on Windows (joinPath),
 * node:os without HOME (clientSocketPath).
 */

export type Env = Record<string, string | undefined>;

/** True when posix.join would change nothing in `dir` but a trailing slash: no `.`, `..` or empty segment. */
function plainPosixDir(dir: string): boolean {
  if (dir === "" || dir === "." || dir === ".." || dir.startsWith("./") || dir.startsWith("../")) return false;
  return !dir.includes("//") && !dir.includes("/./") && !dir.includes("/../") && !dir.endsWith("/.") && !dir.endsWith("/..");
}

/** node:path, loaded only where it is needed (see joinPath). */
const nodePath = () => require("node:path") as typeof import("node:path");

/**
 * path.join for the default paths, without loading node:path where it
 * would change nothing: `dir` plus `names`, minus the trailing slashes
 * `dir` was given with. A `dir` with `.`, `..` or `//` in it, and every
 * Windows path, goes through node:path itself, so the result is always
 * path.join's, as config.ts's other paths under ADI_HOME are. (node:path
 * costs the CLI ≈ 10 GC blocks of start-up heap, enough to start JSC's
 * block warm-up thread: bench/README.md.)
 */
function joinPath(platform: NodeJS.Platform, dir: string, ...names: string[]): string {
  if (platform === "win32") return nodePath().win32.join(dir, ...names);
  if (!plainPosixDir(dir)) return nodePath().posix.join(dir, ...names);
  let end = dir.length;
  while (end > 1 && dir[end - 1] === "/") end--;
  // Only "/" is left as one slash ("//" went to node:path): a one-letter directory ("h") is a directory like any other.
  return end === 1 && dir[0] === "/" ? `/${names.join("/")}` : [dir.slice(0, end), ...names].join("/");
}

/** The Windows named pipe the daemon listens on unless ADI_DAEMON_SOCKET says otherwise. */
export const WINDOWS_PIPE = "\\\\.\\pipe\\adi-daemon";

/**
 * ADI_HOME when unset. Linux and macOS: `${XDG_DATA_HOME:-~/.local/share}/adi`
 * (macOS deliberately uses the XDG layout too, see docs/install.md);
 * Windows: `%LOCALAPPDATA%\adi`.
 */
export function defaultAdiHome(env: Env, platform: NodeJS.Platform, home: string): string {
  if (platform === "win32") {
    const local = env.LOCALAPPDATA || joinPath(platform, home, "AppData", "Local");
    return joinPath(platform, local, "adi");
  }
  // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored (it would name another directory from every working directory).
  const xdg = env.XDG_DATA_HOME?.startsWith("/") ? env.XDG_DATA_HOME : undefined;
  return joinPath(platform, xdg || joinPath(platform, home, ".local", "share"), "adi");
}

/** ADI_HOME: the variable, else the platform default. */
export function adiHome(env: Env, platform: NodeJS.Platform, home: string): string {
  return env.ADI_HOME || defaultAdiHome(env, platform, home);
}

/**
 * The daemon's socket: ADI_DAEMON_SOCKET, else `\\.\pipe\adi-daemon` on
 * Windows, else `$ADI_HOME/daemon.sock`.
 */
export function defaultSocketPath(env: Env, platform: NodeJS.Platform, home: string): string {
  if (env.ADI_DAEMON_SOCKET) return env.ADI_DAEMON_SOCKET;
  if (platform === "win32") return WINDOWS_PIPE;
  return joinPath(platform, adiHome(env, platform, home), "daemon.sock");
}

/**
 * The socket a client of this user uses by default: defaultSocketPath with
 * the home directory from the environment (node:os, ≈ 1–2 ms for the CLI to
 * load, only when neither HOME nor USERPROFILE is set).
 */
export function clientSocketPath(env: Env): string {
  return defaultSocketPath(env, process.platform, clientHome(env));
}

function clientHome(env: Env): string {
  return env.HOME || env.USERPROFILE || (require("node:os") as typeof import("node:os")).homedir();
}

/** The daemon's log: ADI_DAEMON_LOG, else `$ADI_HOME/logs/daemon.log`. */
export function daemonLogPath(env: Env, platform: NodeJS.Platform, home: string): string {
  return env.ADI_DAEMON_LOG || joinPath(platform, adiHome(env, platform, home), "logs", "daemon.log");
}

/** daemonLogPath for a client of this user (clientSocketPath's home). */
export function clientDaemonLogPath(env: Env): string {
  return daemonLogPath(env, process.platform, clientHome(env));
}

/** `@name` selects a Linux abstract socket (no file, no permissions). */
export function isAbstractSocket(socket: string): boolean {
  return socket.startsWith("@");
}

/** A Windows named pipe path (`\\.\pipe\NAME` or `//./pipe/NAME`). */
export function isNamedPipe(socket: string): boolean {
  // The first two characters rule out nearly every socket path before the regex (≈ 0.3 ms to compile in the CLI).
  const slash = (c: string | undefined) => c === "/" || c === "\\";
  return slash(socket[0]) && slash(socket[1]) && /^[\\/]{2}[.?][\\/]pipe[\\/]./i.test(socket);
}

/** The variables that name the daemon's files: its home, and where its socket, PID file and log go. */
export const PATH_VARIABLES = ["ADI_HOME", "ADI_DAEMON_SOCKET", "ADI_DAEMON_PID", "ADI_DAEMON_LOG"] as const;

/**
 * Whether `value`, given for path variable `key`, is a relative path (an
 * `@name` or a named pipe is no path). A rooted path is absolute on every
 * platform, so the usual case needs no node:path (see joinPath).
 */
export function isRelativePath(key: string, value: string | undefined): value is string {
  if (!value || value.startsWith("/")) return false;
  if (key === "ADI_DAEMON_SOCKET" && (isAbstractSocket(value) || isNamedPipe(value))) return false;
  return !nodePath().isAbsolute(value);
}

/**
 * `env` with relative path variables made absolute against `cwd`: what a
 * relative path means is the directory of whoever reads it first. The
 * daemon a client spawns runs in `/` (`ADI_HOME=./state adi daemon start`
 * started one on /state), a unit has no working directory of the user's,
 * and a service runs in its own (it is handed ADI_DAEMON_SOCKET).
 */
export function withAbsolutePaths<T extends Record<string, string | undefined>>(env: T, cwd = process.cwd()): T {
  const out: Record<string, string | undefined> = { ...env };
  for (const key of PATH_VARIABLES) {
    const value = out[key];
    if (isRelativePath(key, value)) out[key] = nodePath().resolve(cwd, value);
  }
  return out as T;
}

/**
 * The address to hand to Bun.listen/Bun.connect `{ unix }`: `@name` becomes
 * `\0name` on Linux. Refused with a clear error where the platform has no such
 * thing: abstract sockets outside Linux, named pipes outside Windows.
 */
export function socketAddress(socket: string, platform: NodeJS.Platform = process.platform): string {
  if (isAbstractSocket(socket)) {
    if (platform !== "linux") {
      throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${socket}: abstract sockets (@name) exist only on Linux`);
    }
    return `\0${socket.slice(1)}`;
  }
  if (isNamedPipe(socket)) {
    if (platform !== "win32") {
      throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${socket}: named pipes exist only on Windows; use a socket path`);
    }
    // `//./pipe/x` is the same pipe as `\\.\pipe\x`; Bun only accepts backslashes.
    return socket.replaceAll("/", "\\");
  }
  return socket;
}

/**
 * Why sockaddr_un cannot hold `socket`'s address (INVALID_ARGUMENT, with the
 * limit and what to set), or null. It holds 108 bytes on Linux (104 on
 * macOS), the path's NUL included, an abstract name's leading NUL counted;
 * Bun refuses longer ones with a bare EINVAL ("Failed to listen"), and a
 * client's connect then looked like "not running". Asked by the daemon before
 * it binds and by a client whose connect failed: not on every command's path,
 * where even encoding the path cost a first call ≈ 35 µs.
 */
export function socketTooLong(socket: string, platform: NodeJS.Platform = process.platform): AdiError | null {
  if (isNamedPipe(socket)) return null;
  const address = socketAddress(socket, platform);
  const max = platform === "darwin" ? 103 : 107;
  const bytes = new TextEncoder().encode(address).length;
  if (bytes <= max) return null;
  const what = address.startsWith("\0") ? "an abstract socket name (@ included)" : "a socket path";
  return new AdiError(ErrorCode.INVALID_ARGUMENT, `${socket}: ${what} may be at most ${max} bytes, this one is ${bytes}: set ADI_DAEMON_SOCKET (or ADI_HOME) to a shorter one`);
}
