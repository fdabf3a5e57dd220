import type { AdiPaths } from "../../config.ts";
import type { IdentifyPeer } from "../caller.ts";
import type { IsolationState } from "../context.ts";
import type { Logger } from "../logger.ts";
import { execMethods } from "../methods/exec.ts";
import type { Methods } from "../router.ts";
import { readApprovals } from "./approvals.ts";
import { createAuditLog } from "./audit.ts";
import { identifyPeers, type FindBySession } from "./identify.ts";
import { detectIsolation } from "./isolation.ts";
import { installedManifestSha } from "./manifest-sha.ts";
import { shareWithServiceUser } from "./socket-access.ts";

export interface Privilege {
  isolation: IsolationState;
  methods: Methods;
  identify: IdentifyPeer;
  /** umask for binding the socket: 0600, or 0666 once a service runs as ADI_USER (see socket-access.ts). */
  readonly socketUmask: number;
  /** The uid/gid a service runs as: plugin services run as ADI_USER when the daemon can switch users. */
  runAs(service: { plugin?: string }): { uid: number; gid: number } | null;
}

/** Everything of DESIGN §7 the composition root wires: detection, methods, identity, socket mode. */
export async function setupPrivilege(opts: {
  paths: AdiPaths;
  logger: Logger;
  warnings: Set<string>;
  findBySession: FindBySession;
}): Promise<Privilege> {
  const { paths, logger, warnings } = opts;
  const ownerUid = process.getuid?.() ?? 0;
  const plan = await detectIsolation(paths, ownerUid);
  for (const w of plan.warnings) warnings.add(w);
  // Modes are widened only when a plugin service actually runs as ADI_USER: until then ADI_HOME
  // stays 0700 and the socket 0600, as for any daemon.
  let shared = false;
  const share = () => {
    if (shared) return;
    shared = true;
    try {
      for (const w of shareWithServiceUser(paths)) warnings.add(w);
    } catch (err) {
      warnings.add(`cannot open ${paths.home} to ${paths.user}: ${(err as Error).message}`);
    }
  };
  logger.info("isolation", { enabled: plan.enabled, reason: plan.reason });
  const audit = createAuditLog(paths.auditLog, (err) => {
    logger.error("audit log not writable", { path: paths.auditLog, error: err.message });
    warnings.add(`audit log ${paths.auditLog} is not writable: ${err.message}`);
  });
  return {
    isolation: { enabled: plan.enabled, reason: plan.reason },
    methods: execMethods({
      plan,
      logger,
      audit,
      approvals: () => readApprovals(paths.approvalsFile, ownerUid),
      manifestSha: (plugin) => installedManifestSha(paths.pluginDir, plugin),
    }),
    identify: identifyPeers(ownerUid, opts.findBySession, logger),
    get socketUmask() {
      return shared ? 0o111 : 0o177;
    },
    runAs(service) {
      if (!service.plugin || !plan.serviceUser) return null;
      share();
      return plan.serviceUser;
    },
  };
}
