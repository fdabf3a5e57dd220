import type { AdiPaths } from "../../config.ts";
import type { IdentifyPeer } from "../caller.ts";
import type { IsolationState } from "../context.ts";
import type { Logger } from "../logger.ts";
import { execMethods } from "../methods/exec.ts";
import type { Methods } from "../router.ts";
import { readApprovals } from "./approvals.ts";
import { createAuditLog } from "./audit.ts";
import { identifyPeers, type FindBySession } from "./identify.ts";
import { detectIsolation, isolationOff, type IsolationPlan } from "./isolation.ts";
import { installedManifestSha } from "./manifest-sha.ts";
import { shareWithServiceUser } from "./socket-access.ts";

export interface Privilege {
  /**
   * Start detecting isolation (once); resolves when it is known. Detection spawns `sudo -n`
   * probes (≈ 35 ms of CPU-bound work), so the composition root calls this after the socket
   * is bound: the daemon answers meanwhile, and only what depends on the plan waits for
   * `ready` (run, sudo_run, status, service spawns).
   */
  detect(): Promise<void>;
  /** Resolves when isolation is known (after `detect()`). */
  readonly ready: Promise<void>;
  isolation(): Promise<IsolationState>;
  methods: Methods;
  identify: IdentifyPeer;
  /** umask for binding the socket: 0600, or 0666 once a service runs as ADI_USER (see socket-access.ts). */
  readonly socketUmask: number;
  /** The uid/gid a service runs as: plugin services run as ADI_USER when the daemon can switch users. Call after `ready`. */
  runAs(service: { plugin?: string }): { uid: number; gid: number } | null;
}

/** Everything of DESIGN §7 the composition root wires: detection, methods, identity, socket mode. */
export function setupPrivilege(opts: {
  paths: AdiPaths;
  logger: Logger;
  warnings: Set<string>;
  findBySession: FindBySession;
}): Privilege {
  const { paths, logger, warnings } = opts;
  const ownerUid = process.getuid?.() ?? 0;
  let known: IsolationPlan | null = null;
  let begin!: () => void;
  // Deny by default: if detection itself fails, the daemon runs without isolation and says why.
  const plan = new Promise<void>((r) => (begin = r))
    .then(() => detectIsolation(paths, ownerUid))
    .catch((err: Error) => isolationOff(`isolation detection failed: ${err.message}`, ownerUid))
    .then((p) => {
      known = p;
      for (const w of p.warnings) warnings.add(w);
      logger.info("isolation", { enabled: p.enabled, reason: p.reason });
      return p;
    });
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
  const audit = createAuditLog(paths.auditLog, (err) => {
    logger.error("audit log not writable", { path: paths.auditLog, error: err.message });
    warnings.add(`audit log ${paths.auditLog} is not writable: ${err.message}`);
  });
  const ready = plan.then(() => {});
  return {
    detect() {
      begin();
      return ready;
    },
    ready,
    async isolation() {
      const { enabled, reason } = await plan;
      return { enabled, reason };
    },
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
      if (!known) throw new Error("isolation is still being detected");
      if (!service.plugin || !known.serviceUser) return null;
      share();
      return known.serviceUser;
    },
  };
}
