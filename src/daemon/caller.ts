import type { PeerCredentials } from "./native.ts";

/**
 * Who is on the other end of a connection, decided once when it opens.
 * "admin": the daemon's owner or root. "plugin": a process inside a managed
 * service's session, acting as that service's plugin.
 */
export interface Caller {
  role: "admin" | "plugin";
  uid: number;
  pid: number;
  gid: number;
  /** The plugin a "plugin" caller acts as (ad-hoc services act as themselves). */
  plugin?: string;
  /** The service whose session holds the caller's pid. */
  service?: string;
}

/** Decides a peer's role; null refuses the connection before any request. */
export type IdentifyPeer = (cred: PeerCredentials | null) => Caller | null;

/**
 * Owner and root are admins. Without peer credentials (not Linux) the socket
 * mode (0600, in a 0700 dir) is what keeps others out, so the peer is the owner.
 */
export function identifyOwnerOrRoot(ownerUid: number): IdentifyPeer {
  return (cred) => {
    if (cred === null) return { role: "admin", uid: ownerUid, pid: 0, gid: 0 };
    if (cred.uid === ownerUid || cred.uid === 0) return { role: "admin", ...cred };
    return null;
  };
}
