import { join } from "node:path";
import { EventKind, ServiceState, type ServiceConfig } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import type { AdiPaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { loadPlugins, type PluginManifest } from "../../plugins/manifest.ts";
import type { Logger } from "../logger.ts";
import { loadDaemonConfig, type DaemonConfig } from "./daemon-config.ts";
import type { BackoffOptions } from "./policy.ts";
import { instanceOf } from "./process-group.ts";
import { reapLeftovers } from "./recovery.ts";
import { RESERVED_NAMES, specFromConfig, specFromPlugin, specFromState } from "./service-config.ts";
import { ServiceLog } from "./service-log.ts";
import { Service, type ServiceEventInit, type ServiceInfoInit } from "./service.ts";
import { sameProcess, sameSpec, type ServiceSpec } from "./spec.ts";
import { readState, writeState, type PersistedChild, type PersistedState } from "./state-store.ts";

export interface ServiceManagerOptions {
  paths: AdiPaths;
  logger: Logger;
  /** The daemon's warning set (shown by `status`). */
  warnings: Set<string>;
  /** Resolves when `spec` may be spawned: the privilege model must first know who it runs as. */
  spawnReady?: (spec: ServiceSpec) => Promise<void>;
  /** Identity a service runs as; null = the daemon's own user. Supplied by the privilege model. */
  runAs?: (service: ServiceSpec) => { uid: number; gid: number } | null;
  livenessIntervalMs?: number;
  backoff?: BackoffOptions;
  /** The daemon's environment, from which the inherited variables are taken. */
  env?: Record<string, string | undefined>;
}

/** Variables a service inherits from the daemon; everything else comes from its definition. */
const INHERITED_ENV = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "XDG_RUNTIME_DIR", "ADI_HOME"];

/**
 * The registry and supervisor of every service: definitions from plugin
 * manifests and ad-hoc configs, what should run (persisted), the liveness
 * watchdog, and crash recovery. Domain code: it never touches sockets.
 */
export class ServiceManager {
  private readonly services = new Map<string, Service>();
  private plugins: PluginManifest[] = [];
  /** Removed from `services`, their process still stopping (remove). */
  private readonly leaving = new Set<Service>();
  /** Removals under way by name, to the log's last line: a new definition of the name waits for its predecessor. */
  private readonly removals = new Map<string, Promise<void>>();
  private config!: DaemonConfig;
  private state!: PersistedState;
  private readonly listeners = new Set<(e: ServiceEventInit) => void>();
  private pluginWarnings: string[] = [];
  private liveness: Timer | null = null;
  private readonly baseEnv: Record<string, string> = {};
  /** The services sorted by name, for list(); null after one is added or removed. */
  private byName: Service[] | null = null;
  private closing = false;
  private persistQueued = false;

  constructor(private readonly opts: ServiceManagerOptions) {
    const env = opts.env ?? process.env;
    for (const key of INHERITED_ENV) if (env[key] !== undefined) this.baseEnv[key] = env[key]!;
    for (const [key, value] of Object.entries(env)) if (key.startsWith("LC_") && value !== undefined) this.baseEnv[key] = value;
    // The home the daemon resolved: a relative ADI_HOME would name another directory in a service's own working directory.
    if (this.baseEnv.ADI_HOME !== undefined) this.baseEnv.ADI_HOME = opts.paths.home;
  }

  /** Read config, manifests and state; kill what a crashed daemon left behind. Call before serving. */
  async init(): Promise<void> {
    const { paths, logger } = this.opts;
    this.config = loadDaemonConfig(paths.configFile);
    for (const w of this.config.warnings) this.warn(w);
    const { state, problems } = readState(paths.stateFile);
    for (const problem of problems) this.warn(problem);
    this.state = state;
    if (state.children.length > 0) {
      await reapLeftovers(state.children, (msg, fields) => logger.warn(msg, fields));
      state.children = [];
    }
    for (const [name, saved] of Object.entries(state.services)) {
      if (!saved.adhoc) continue;
      try {
        this.add(specFromState(name, saved.adhoc));
      } catch (err) {
        this.warn(`state.json: ad-hoc service dropped: ${(err as Error).message}`);
      }
    }
    this.scanPlugins();
    this.writeNow();
    this.liveness = setInterval(() => {
      for (const s of this.everyService()) s.checkAlive();
    }, this.opts.livenessIntervalMs ?? 5_000);
  }

  /** Start what should run: the user's last wish, else daemon.toml's auto_start. */
  async startDesired(): Promise<void> {
    const wanted = new Set<Service>();
    for (const s of this.services.values()) if (s.desired === true) wanted.add(s);
    for (const name of this.config.autoStart) {
      try {
        const s = this.resolve(name);
        if (s.desired === null) wanted.add(s);
      } catch (err) {
        this.warn(`auto_start: ${(err as Error).message}`);
      }
    }
    await Promise.all(
      [...wanted].map((s) => s.start().catch((err) => this.opts.logger.warn("start at daemon start failed", { service: s.name, error: (err as Error).message }))),
    );
  }

  /** A service by name; reserved names resolve to their plugin's service. */
  resolve(name: string): Service {
    const direct = this.services.get(name);
    if (direct) return direct;
    if (RESERVED_NAMES.has(name)) {
      const service = this.plugins.find((p) => p.name === name)?.service;
      const found = service && this.services.get(service.name);
      if (found) return found;
      throw new AdiError(ErrorCode.NOT_FOUND, `service ${name} is not installed: install the ${name} plugin with \`adi plugin install PATH\``);
    }
    throw new AdiError(ErrorCode.NOT_FOUND, `no service named ${name}: define it with \`adi daemon start ${name} -- CMD [ARGS…]\` or install a plugin that declares it`);
  }

  /** Start a known service, or define (redefine) an ad-hoc one and start it. */
  async start(name: string, config?: ServiceConfig): Promise<void> {
    if (!config) return this.resolve(name).start();
    // A service of this name still stopping after a remove goes first: the two would share a log and events.
    await this.removals.get(name);
    const spec = specFromConfig(name, config);
    const existing = this.services.get(name);
    if (!existing) return this.add(spec).start();
    if (existing.spec.plugin) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `service ${name} is declared by plugin ${existing.spec.plugin}; it cannot be redefined ad hoc`);
    }
    if (sameSpec(existing.spec, spec)) return existing.start();
    const restart = !sameProcess(existing.spec, spec);
    existing.spec = spec;
    this.persist();
    // The running generation is stopped as the definition it was spawned under says (Child.stop).
    return existing.child && restart ? existing.restart() : existing.start();
  }

  /** Stop an ad-hoc service and forget it (`adi daemon remove`); a plugin's goes with its plugin. */
  async removeAdhoc(name: string): Promise<void> {
    const service = this.resolve(name);
    if (service.spec.plugin) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `service ${name} is declared by plugin ${service.spec.plugin}: remove the plugin (adi plugin remove ${service.spec.plugin})`);
    }
    await this.remove(service);
    // A plugin's service it shadowed (an ad-hoc one of the same name is kept over it) appears now.
    await this.reloadPlugins();
  }

  /** Every service by name; the objects change with the next call (Service.info): encode them at once. */
  list(): ServiceInfoInit[] {
    this.byName ??= [...this.services.values()].sort((a, b) => a.name.localeCompare(b.name));
    return this.byName.map((s) => s.info());
  }

  counts(): { total: number; running: number; failed: number } {
    let running = 0;
    let failed = 0;
    for (const s of this.services.values()) {
      if (s.state === ServiceState.RUNNING) running++;
      else if (s.state === ServiceState.FAILED) failed++;
    }
    return { total: this.services.size, running, failed };
  }

  /** The plugin that declares service `name` (undefined for an ad-hoc or unknown service). */
  pluginOf(name: string): string | undefined {
    return this.services.get(name)?.spec.plugin;
  }

  /** The service whose main process leads session `sid` (for caller identification). */
  findBySession(sid: number): { name: string; plugin?: string } | undefined {
    for (const s of this.everyService()) {
      if (s.child && s.child.pid === sid && !s.child.handled) return { name: s.name, plugin: s.spec.plugin };
    }
    return undefined;
  }

  onEvent(listener: (e: ServiceEventInit) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-read plugin manifests: new services appear, changed ones apply at next start, vanished ones stop and go. */
  async reloadPlugins(): Promise<void> {
    const gone = this.scanPlugins();
    await Promise.all(gone.map((s) => this.remove(s)));
    this.persist();
  }

  /** SIGHUP: every service log reopens its path (logrotate renamed the old file). */
  reopenLogs(): void {
    for (const service of this.everyService()) service.log.reopenFile();
  }

  /** Daemon shutdown: stop every service (graceful: stop signal + timeout; else KILL) without changing what should run. */
  async stopAll(graceful: boolean): Promise<void> {
    this.closing = true;
    if (this.liveness) clearInterval(this.liveness);
    this.liveness = null;
    await Promise.all([...this.everyService()].map((s) => s.halt(graceful)));
    this.writeNow();
  }

  private add(spec: ServiceSpec): Service {
    let shown: string | null = null; // this log's warning in `status`, removed once the file works again
    const log = new ServiceLog(spec.name, join(this.opts.paths.serviceLogDir, `${spec.name}.log`), this.config.rotation, (problem) => {
      if (shown) this.opts.warnings.delete(shown);
      shown = problem;
      if (problem) {
        this.opts.warnings.add(problem);
        this.opts.logger.warn("service log not writable", { service: spec.name, error: problem });
      }
    });
    const service: Service = new Service(spec, log, {
      changed: () => this.persist(),
      event: (e) => this.publish(e),
      env: (s) => ({ ...this.baseEnv, ...s.env, ADI_DAEMON_SOCKET: this.opts.paths.socket, ADI_SERVICE_NAME: s.name }),
      spawnReady: (s) => this.opts.spawnReady?.(s) ?? Promise.resolve(),
      runAs: (s) => this.opts.runAs?.(s) ?? null,
      closing: () => this.closing,
      backoff: this.opts.backoff,
    });
    service.desired = this.state.services[spec.name]?.desired ?? null;
    this.services.set(spec.name, service);
    this.byName = null;
    return service;
  }

  /**
   * Out of the registry before its halt, which may take the whole stop
   * timeout: found during it, a start or restart was queued behind the halt
   * and spawned a process nothing tracked (not listed, not in state.json, not
   * stopped with the daemon), and a reload during it re-pointed the doomed
   * object at a reinstalled plugin's service, which then went with it. Until
   * its process is gone it is still recorded (a crash meanwhile leaves nothing
   * the next daemon does not know) and its session still identifies its plugin.
   */
  private remove(service: Service): Promise<void> {
    const done = this.retireAndForget(service);
    const settled = done.catch(() => {});
    this.removals.set(service.name, settled);
    void settled.then(() => {
      if (this.removals.get(service.name) === settled) this.removals.delete(service.name);
    });
    return done;
  }

  private async retireAndForget(service: Service): Promise<void> {
    this.services.delete(service.name);
    this.byName = null;
    delete this.state.services[service.name];
    this.leaving.add(service);
    try {
      await service.retire();
    } finally {
      this.leaving.delete(service);
      this.persist();
    }
    service.log.close("service removed");
    this.opts.logger.info("service removed", { service: service.name });
  }

  /** Sync plugin services with the manifests on disk; returns those whose plugin no longer declares them. */
  private scanPlugins(): Service[] {
    const { plugins, errors } = loadPlugins(this.opts.paths.pluginDir);
    // What a scan finds wrong is shown until a scan no longer finds it (the plugin fixed or removed).
    for (const w of this.pluginWarnings) this.opts.warnings.delete(w);
    this.pluginWarnings = [];
    const scanWarn = (message: string) => {
      this.pluginWarnings.push(message);
      this.warn(message);
    };
    for (const e of errors) scanWarn(`plugin skipped: ${e.message}`);
    this.plugins = plugins;
    const declared = new Map<string, ServiceSpec>();
    for (const p of plugins) {
      const spec = specFromPlugin(p);
      if (!spec) continue;
      // `adi daemon start hive` means the hive plugin's service: another plugin may not answer to that name.
      if (RESERVED_NAMES.has(spec.name) && p.name !== spec.name) {
        scanWarn(`plugin ${p.name} declares service ${spec.name}, a name reserved for the ${spec.name} plugin; skipped`);
        continue;
      }
      const existing = this.services.get(spec.name);
      if (existing && !existing.spec.plugin) {
        scanWarn(`plugin ${p.name} declares service ${spec.name}, but an ad-hoc service has that name; the ad-hoc one is kept`);
        continue;
      }
      declared.set(spec.name, spec);
      if (existing) existing.spec = spec;
      else this.add(spec);
    }
    return [...this.services.values()].filter((s) => s.spec.plugin && !declared.has(s.name));
  }

  /** The registered services and those being removed (still with a process to track). */
  private *everyService(): Iterable<Service> {
    yield* this.services.values();
    yield* this.leaving;
  }

  private publish(e: ServiceEventInit): void {
    this.opts.logger.info(`service ${EventKind[e.kind ?? 0]?.toLowerCase() ?? "event"}`, { service: e.service, pid: e.pid || undefined, message: e.message || undefined });
    for (const listener of this.listeners) listener(e);
  }

  private warn(message: string): void {
    this.opts.warnings.add(message);
    this.opts.logger.warn(message);
  }

  /**
   * Record a change in state.json. Changes made in one tick (a restart moves
   * through three states) are written once, at the end of that tick: before
   * the daemon does any other I/O, so a crash cannot lose a child's record.
   */
  private persist(): void {
    if (this.persistQueued) return;
    this.persistQueued = true;
    queueMicrotask(() => this.writeNow());
  }

  private writeNow(): void {
    this.persistQueued = false;
    if (!this.state) return;
    const services: PersistedState["services"] = {};
    for (const s of this.services.values()) {
      if (s.spec.plugin) {
        if (s.desired !== null) services[s.name] = { desired: s.desired };
      } else {
        services[s.name] = { desired: s.desired ?? false, adhoc: s.spec };
      }
    }
    const children = [...this.everyService()]
      .filter((s) => s.child !== null)
      .map((s) => {
        const child = s.child!;
        const record: PersistedChild = { name: s.name, pid: child.pid, pgid: child.pid, sid: child.pid, startTime: child.startTime };
        const instance = instanceOf(child.pid, child.startTime);
        if (instance !== null) record.instance = instance;
        return record;
      });
    this.state = { version: 1, services, children };
    try {
      writeState(this.opts.paths.stateFile, this.state);
    } catch (err) {
      this.opts.logger.error("cannot write state", { path: this.opts.paths.stateFile, error: (err as Error).message });
    }
  }
}
