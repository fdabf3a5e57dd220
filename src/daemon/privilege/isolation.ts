import type { AdiPaths } from "../../config.ts";
import { FIXED_ENV, lookupOnFixedPath } from "./resolve-command.ts";
import { lookupUser } from "./users.ts";

/** How to start a process as some user: switch uid/gid (daemon is root), or prefix argv (sudo -u). */
export interface RunAs {
  uid?: number;
  gid?: number;
  prefix: string[];
  /** Who the process runs as, for messages. */
  user: string;
}

/**
 * What the daemon can do about privilege, decided once at start (restart the
 * daemon after `adi daemon setup-users`).
 */
export interface IsolationPlan {
  /** true when run executes as ADI_USER and sudo_run is available. */
  enabled: boolean;
  reason: string;
  /** How `run` executes. */
  run: RunAs;
  /** How to start `sudo -n -- CMD` as ADI_ROOT_USER; null = sudo_run unavailable (`sudoReason` says why). */
  sudo: RunAs | null;
  sudoReason: string;
  /** uid/gid plugin services run as; null = they run as the daemon's user. */
  serviceUser: { uid: number; gid: number } | null;
  /** Problems worth showing in `status`. */
  warnings: string[];
  /** Set when detection failed: who to run things as is unknown, so run and plugin services are refused with this reason. */
  refused?: string;
}

/**
 * Detection itself failed. Deny by default: run and plugin services are
 * refused, sudo_run is denied (and audited) with the reason; the owner's own
 * services still run, as they do in every mode.
 */
export function isolationRefused(error: unknown, daemonUid: number): IsolationPlan {
  const why = `isolation detection failed (${String((error as Error)?.message ?? error)}): run, sudo_run and plugin services are refused; restart the daemon`;
  return { ...isolationOff(why, daemonUid), sudoReason: why, refused: why };
}

/** No isolation: run executes as the daemon's own user and sudo_run is unavailable. */
function isolationOff(reason: string, daemonUid: number): IsolationPlan {
  return {
    enabled: false,
    reason,
    run: { prefix: [], user: `the daemon's own user (uid ${daemonUid})` },
    sudo: null,
    sudoReason: `isolation is not set up: ${reason}`,
    serviceUser: null,
    warnings: [],
  };
}

const SETUP_HINT = "run `adi daemon setup-users` as root, then restart the daemon";

/** Does `argv` run and exit 0 as `as`, within a few seconds? */
async function probe(as: RunAs, argv: string[]): Promise<boolean> {
  try {
    const proc = Bun.spawn([...as.prefix, ...argv], {
      env: FIXED_ENV,
      cwd: "/",
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
      timeout: 5_000,
      ...(as.uid !== undefined ? { uid: as.uid, gid: as.gid ?? as.uid } : {}),
    });
    return (await proc.exited) === 0;
  } catch {
    return false;
  }
}

/**
 * Decide the plan. The sudo probes run concurrently: each costs a `sudo`
 * start (~35 ms), and they sit on the daemon's cold-start path.
 */
export async function detectIsolation(paths: AdiPaths, daemonUid = process.getuid?.() ?? -1): Promise<IsolationPlan> {
  const off = (reason: string) => isolationOff(reason, daemonUid);
  if (process.platform !== "linux") return off("user isolation is only supported on Linux");
  const sudoBin = lookupOnFixedPath("sudo");
  const user = lookupUser(paths.user);
  if (!user) return off(`user ${paths.user} does not exist (${SETUP_HINT})`);
  const rootUser = lookupUser(paths.rootUser);
  if (!rootUser) return off(`user ${paths.rootUser} does not exist (${SETUP_HINT})`);
  if (user.uid === 0 || rootUser.uid === 0) return off(`${paths.user} and ${paths.rootUser} must not be uid 0`);
  // One account for both would give every plugin passwordless sudo.
  if (user.uid === rootUser.uid) return off(`${paths.user} and ${paths.rootUser} must be two different users (both are uid ${user.uid})`);
  if (!sudoBin) return off("sudo is not installed");

  let run: RunAs;
  let sudo: RunAs;
  let serviceUser: IsolationPlan["serviceUser"] = null;
  if (daemonUid === 0) {
    run = { uid: user.uid, gid: user.gid, prefix: [], user: paths.user };
    sudo = { uid: rootUser.uid, gid: rootUser.gid, prefix: [], user: paths.rootUser };
    serviceUser = { uid: user.uid, gid: user.gid };
  } else {
    run = { prefix: [sudoBin, "-n", "-u", paths.user, "--"], user: paths.user };
    sudo = { prefix: [sudoBin, "-n", "-u", paths.rootUser, "--"], user: paths.rootUser };
    if (!(await probe(run, ["/bin/true"]))) {
      return off(`the daemon runs as uid ${daemonUid} and may not switch to ${paths.user} with sudo -n (${SETUP_HINT} with this user as owner)`);
    }
  }
  const warnings: string[] = [];
  const [rootUserCanSudo, userCanSudo] = await Promise.all([
    probe(sudo, [sudoBin, "-n", "--", "/bin/true"]),
    probe(run, [sudoBin, "-n", "--", "/bin/true"]),
  ]);
  if (!rootUserCanSudo) {
    const reason = `${paths.rootUser} cannot run sudo without a password (${SETUP_HINT})`;
    return { ...off(reason), run, serviceUser, sudoReason: `isolation is not set up: ${reason}` };
  }
  if (userCanSudo) {
    warnings.push(`${paths.user} can run sudo: plugins are not isolated from root; remove its sudo rights`);
  }
  return {
    enabled: true,
    reason: `run executes as ${paths.user}, sudo_run through ${paths.rootUser}`,
    run,
    sudo,
    sudoReason: "",
    serviceUser,
    warnings,
  };
}
