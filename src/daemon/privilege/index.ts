import type { AdiPaths } from "../../config.ts";
import type { IdentifyPeer } from "../caller.ts";
import type { IsolationState } from "../context.ts";
import type { Logger } from "../logger.ts";
import { execMethods } from "../methods/exec.ts";
import type { Methods } from "../router.ts";
import { readApprovals } from "./approvals.ts";
import { createAuditLog, type AuditLog } from "./audit.ts";
import { identifyPeers, type FindBySession } from "./identify.ts";
import { detectIsolation, isolationRefused, type IsolationPlan } from "./isolation.ts";
import { installedManifestSha } from "./manifest-sha.ts";
import { shareWithServiceUser } from "./socket-access.ts";

export interface Privilege {
  /**
   * Start detecting isolation (once); resolves when it is known. Detection spawns `sudo -n`
   * probes (≈ 35 ms of CPU-bound work), so the composition root calls this after the socket
   * is bound: the daemon answers meanwhile, and only what depends on the plan waits for
   * `ready` (run, sudo_run, status, plugin services' spawns: spawnReady).
   */
  detect(): Promise<void>;
  /** Resolves when isolation is known (after `detect()`). */
  readonly ready: Promise<void>;
  isolation(): Promise<IsolationState>;
  /** The sudo_run audit log: main.ts reopens it on SIGHUP and flushes its counts at shutdown. */
  readonly audit: AuditLog;
  methods: Methods;
  identify: IdentifyPeer;
  /** umask for binding the socket: 0600, or 0666 once a service runs as ADI_USER (see socket-access.ts). */
  readonly socketUmask: number;
  /** The uid/gid a service runs as: plugin services run as ADI_USER when the daemon can switch users. Call after spawnReady. */
  runAs(service: { plugin?: string }): { uid: number; gid: number } | null;
  /**
   * Resolves when runAs can answer for `service`: at once for the owner's
   * services, which run as the owner in every mode, so they do not wait for
   * the probes (docs/security.md); a plugin's with `ready`. A service never
   * changes between the two kinds: a plugin cannot take over an ad-hoc name,
   * nor an ad-hoc definition a plugin's (test/services/plugins.test.ts).
   */
  spawnReady(service: { plugin?: string }): Promise<void>;
}

/** How long `status` waits for isolation detection before it answers "still being detected". */
const STATUS_WAIT_MS = 2_000;

/** Everything of DESIGN §7 the composition root wires: detection, methods, identity, socket mode. */
export function setupPrivilege(opts: {
  paths: AdiPaths;
  logger: Logger;
  warnings: Set<string>;
  findBySession: FindBySession;
  /** How isolation is detected (tests replace it); detectIsolation. */
  detect?: typeof detectIsolation;
  statusWaitMs?: number;
}): Privilege {
  const { paths, logger, warnings } = opts;
  const ownerUid = process.getuid?.() ?? 0;
  let known: IsolationPlan | null = null;
  let begin!: () => void;
  const plan = new Promise<void>((r) => (begin = r))
    .then(() => (opts.detect ?? detectIsolation)(paths, ownerUid))
    .catch((err: unknown) => {
      const refused = isolationRefused(err, ownerUid);
      logger.error("isolation detection failed", { error: refused.reason });
      return refused;
    })
    .then((p) => {
      known = p;
      for (const w of p.warnings) warnings.add(w);
      if (p.refused) warnings.add(p.refused);
      logger.info("isolation", { enabled: p.enabled, reason: p.reason });
      return p;
    });
  const ready = plan.then(() => {});
  const state = (): IsolationState | null => (known ? { enabled: known.enabled, reason: known.reason } : null);
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
  let auditProblem: string | null = null;
  const audit = createAuditLog(paths.auditLog, (err) => {
    if (auditProblem) warnings.delete(auditProblem);
    auditProblem = err && `audit log ${paths.auditLog} is not writable: ${err.message}`;
    if (err) {
      warnings.add(auditProblem!);
      logger.error("audit log not writable", { path: paths.auditLog, error: err.message });
    } else logger.info("audit log writable again", { path: paths.auditLog });
  });
  return {
    detect() {
      begin();
      return ready;
    },
    ready,
    audit,
    async isolation() {
      // `status` answers even while a slow sudo is still being probed (probes time out after 5 s).
      if (!state()) {
        let timer: Timer | undefined;
        await Promise.race([ready, new Promise<void>((r) => (timer = setTimeout(r, opts.statusWaitMs ?? STATUS_WAIT_MS)))]);
        clearTimeout(timer);
      }
      return state() ?? { enabled: false, reason: "still being detected (sudo -n probes are running)" };
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
    spawnReady: (service) => (service.plugin ? ready : Promise.resolve()),
    runAs(service) {
      if (!service.plugin) return null; // the owner's services run as the owner in every mode
      if (!known) throw new Error("isolation is still being detected");
      if (known.refused) throw new Error(known.refused);
      if (!known.serviceUser) return null;
      share();
      return known.serviceUser;
    },
  };
}
