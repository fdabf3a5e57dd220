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
