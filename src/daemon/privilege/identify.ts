import type { IdentifyPeer } from "../caller.ts";
import type { Logger } from "../logger.ts";
import { sessionOf } from "../native.ts";
import { procOwner, readProcStat } from "../../util/proc-stat.ts";

/** What identification needs from the service manager: the running service led by session `sid`. */
export interface ServiceSession {
  name: string;
  plugin?: string;
}
export type FindBySession = (sid: number) => ServiceSession | undefined;

/**
 * Who a peer is, from the kernel (SO_PEERCRED pid/uid) and /proc, never from
 * the message:
 * - a process inside a plugin service's session acts as that plugin (even when
 *   services run as the owner: a plugin never gets the owner's admin rights);
 * - otherwise the owner or root is an admin;
 * - otherwise a process inside an ad-hoc service's session acts as that service;
 * - anyone else is refused before any request (and logged).
 * The session leader's start time must not be later than the peer's, so a
 * recycled session id never maps a stranger onto a service.
 */
/** Platforms whose kernel tells the daemon who is at the other end of the socket (native.ts peerCredentials). */
const CREDENTIALS_PLATFORMS: ReadonlySet<string> = new Set(["linux", "darwin"]);

export function identifyPeers(ownerUid: number, findBySession: FindBySession, logger: Logger): IdentifyPeer {
  return (cred) => {
    // Without peer credentials (Windows) the pipe's access rules are what keep others out. Where the
    // kernel can say (Linux, macOS), a failure to read them refuses the peer, never makes it an admin.
    if (cred === null) {
      if (!CREDENTIALS_PLATFORMS.has(process.platform)) return { role: "admin", uid: ownerUid, pid: 0, gid: 0 };
      logger.warn("peer refused: its credentials could not be read");
      return null;
    }
    const service = serviceOf(cred.pid, cred.uid, findBySession);
    if (service?.plugin) return { role: "plugin", ...cred, plugin: service.plugin, service: service.name };
    if (cred.uid === ownerUid || cred.uid === 0) return { role: "admin", ...cred };
    if (service) return { role: "plugin", ...cred, service: service.name };
    logger.warn("peer refused: neither the owner, root, nor a process of a managed service", { ...cred });
    return null;
  };
}

function serviceOf(pid: number, uid: number, findBySession: FindBySession): ServiceSession | undefined {
  if (pid <= 0) return undefined;
  // Most peers (the CLI, scripts) are in no service's session: getsid(2) says so in one call. Reading
  // /proc cost ≈ 75 µs of every connection to an idle daemon (bench/README.md); it is only done for a
  // peer that may be a service's, to check the pid was not recycled and the session leader is older.
  const sid = sessionOf(pid);
  const service = sid === null ? undefined : findBySession(sid);
  if (!service) return undefined;
  // The pid must still be the connecting process: same owner as the kernel reported at connect, and
  // /proc must name the same session (read after the owner: a pid recycled meanwhile shows here).
  if (procOwner(pid) !== uid) return undefined;
  const peer = readProcStat(pid);
  if (!peer || peer.session !== sid) return undefined;
  const leader = readProcStat(sid);
  if (!leader || leader.session !== sid || leader.startTime > peer.startTime) return undefined;
  return service;
}
