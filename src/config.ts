import { homedir } from "node:os";
import { posix, win32 } from "node:path";
import { adiHome, daemonLogPath, defaultSocketPath, type Env } from "./protocol/transport.ts";

export { isAbstractSocket, isNamedPipe, socketAddress, WINDOWS_PIPE } from "./protocol/transport.ts";

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

/**
 * Resolve paths from the environment. `platform` and `home` are parameters so
 * the Windows/macOS choices can be tested on Linux.
 */
export function resolvePaths(
  env: Env = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): AdiPaths {
  const join = platform === "win32" ? win32.join : posix.join;
  const root = adiHome(env, platform, home);
  const logDir = join(root, "logs");
  return {
    home: root,
    socket: defaultSocketPath(env, platform, home),
    pidFile: env.ADI_DAEMON_PID || join(root, "daemon.pid"),
    lockFile: join(root, "daemon.lock"),
    daemonLog: daemonLogPath(env, platform, home),
    logDir,
    serviceLogDir: join(logDir, "services"),
    pluginDir: join(root, "plugins"),
    stateFile: join(root, "state.json"),
    configFile: join(root, "daemon.toml"),
    approvalsFile: join(root, "approvals.json"),
    auditLog: join(logDir, "audit.log"),
    user: env.ADI_USER || "adi",
    rootUser: env.ADI_ROOT_USER || "adi-root",
  };
}
