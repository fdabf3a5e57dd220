import { homedir } from "node:os";
import { join } from "node:path";

/** Every path and name the daemon and its clients agree on (DESIGN §4). */
export interface AdiPaths {
  home: string;
  socket: string;
  pidFile: string;
  lockFile: string;
  daemonLog: string;
  logDir: string;
  serviceLogDir: string;
  pluginDir: string;
  stateFile: string;
  configFile: string;
  approvalsFile: string;
  auditLog: string;
  user: string;
  rootUser: string;
}

type Env = Record<string, string | undefined>;

const WINDOWS_PIPE = "\\\\.\\pipe\\adi-daemon";

function defaultHome(env: Env, platform: NodeJS.Platform, home: string): string {
  if (platform === "win32") {
    const local = env.LOCALAPPDATA || join(home, "AppData", "Local");
    return join(local, "adi");
  }
  // macOS uses the XDG location too: one layout to document and to test.
  const data = env.XDG_DATA_HOME || join(home, ".local", "share");
  return join(data, "adi");
}

/**
 * Resolve paths from the environment. `platform` and `home` are parameters so
 * the Windows/macOS choices can be tested on Linux.
 */
export function resolvePaths(
  env: Env = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): AdiPaths {
  const adiHome = env.ADI_HOME || defaultHome(env, platform, home);
  const logDir = join(adiHome, "logs");
  const defaultSocket = platform === "win32" ? WINDOWS_PIPE : join(adiHome, "daemon.sock");
  return {
    home: adiHome,
    socket: env.ADI_DAEMON_SOCKET || defaultSocket,
    pidFile: env.ADI_DAEMON_PID || join(adiHome, "daemon.pid"),
    lockFile: join(adiHome, "daemon.lock"),
    daemonLog: env.ADI_DAEMON_LOG || join(logDir, "daemon.log"),
    logDir,
    serviceLogDir: join(logDir, "services"),
    pluginDir: join(adiHome, "plugins"),
    stateFile: join(adiHome, "state.json"),
    configFile: join(adiHome, "daemon.toml"),
    approvalsFile: join(adiHome, "approvals.json"),
    auditLog: join(logDir, "audit.log"),
    user: env.ADI_USER || "adi",
    rootUser: env.ADI_ROOT_USER || "adi-root",
  };
}

/** `@name` selects a Linux abstract socket (no file, no permissions). */
export function listenAddress(socket: string): string {
  return socket.startsWith("@") ? `\0${socket.slice(1)}` : socket;
}

export function isAbstractSocket(socket: string): boolean {
  return socket.startsWith("@");
}
