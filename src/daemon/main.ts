import { closeSync, fstatSync } from "node:fs";
import { resolvePaths, socketAddress, type AdiPaths } from "../config.ts";
import { socketTooLong, withAbsolutePaths } from "../protocol/transport.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { VERSION } from "../version.ts";
import type { DaemonContext } from "./context.ts";
import {
  clearStaleSocket,
  preparePaths,
  removePidFile,
  tryAcquireLock,
  writePidFile,
} from "./instance.ts";
import { createLogger, type Logger } from "./logger.ts";
import { setNonBlocking } from "./native.ts";
import { coreMethods } from "./methods/core.ts";
import { serviceMethods } from "./methods/services.ts";
import { setupPrivilege } from "./privilege/index.ts";
import { withUmask } from "./privilege/socket-access.ts";
import { Router } from "./router.ts";
import { MAX_CONNECTIONS_LIMIT, MAX_READ_DEADLINE_MS, startServer } from "./server.ts";
import { ServiceManager } from "./services/manager.ts";

export interface RunDaemonOptions {
  /** true: log to ADI_DAEMON_LOG (started by `adi daemon start`); false: stderr. */
  background: boolean;
  paths?: AdiPaths;
}

/** How long a new daemon waits for a previous one that holds the lock but does not answer yet. */
const LOCK_WAIT_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A whole number from 1 to `max` from the environment (limits tests and
 * operators tune), else undefined = the default. A value set but out of range
 * is reported, as daemon.toml's bad settings are, instead of being dropped
 * silently: the operator meant something by it.
 */
function envInt(name: string, max: number, warn: (message: string) => void): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (Number.isSafeInteger(n) && n > 0 && n <= max) return n;
  warn(`${name}=${JSON.stringify(raw)} is not a whole number from 1 to ${max} (ignored: the default is used)`);
  return undefined;
}

/** Take the instance lock, or learn that a live daemon already serves this ADI_HOME. */
async function acquireInstance(paths: AdiPaths, logger: Logger): Promise<number | "already-running"> {
  let deadline = performance.now() + LOCK_WAIT_MS;
  let toldStopping = false;
  for (;;) {
    const fd = tryAcquireLock(paths.lockFile);
    if (fd !== null) return fd;
    const holder = await holderState(paths);
    if (holder === "running") return "already-running";
    if (holder === "stopping") {
      // Its lock is ours once its services have stopped, however long that takes.
      if (!toldStopping) logger.info("waiting for the daemon that is shutting down to exit", { socket: paths.socket });
      toldStopping = true;
      deadline = performance.now() + LOCK_WAIT_MS;
    } else if (performance.now() > deadline) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `another daemon holds ${paths.lockFile} but does not answer on ${paths.socket}`);
    }
    // The holder is starting up or shutting down: wait for it to settle.
    logger.debug("waiting for the instance lock");
    await sleep(20);
  }
}

/**
 * What the lock's holder answers on the socket. One that accepts but does not
 * answer in time (hung, stopped) counts as running: it is there. A full
 * listen queue counts as not answering yet.
 */
async function holderState(paths: AdiPaths): Promise<"running" | "stopping" | "stopped"> {
  // Loaded only when another daemon holds the lock: a normal start does not pay for the client.
  const { DaemonClient } = await import("../client/daemon-client.ts");
  const client = new DaemonClient({ socketPath: paths.socket, timeoutMs: 2_000 });
  try {
    return await client.daemonState();
  } catch (err) {
    return err instanceof AdiError && err.code === ErrorCode.RESOURCE_EXHAUSTED ? "stopped" : "running";
  } finally {
    client.close();
  }
}

/** Only a pipe or socket (a terminal's description is the shell's too): see native.ts setNonBlocking. */
function nonBlockingStderr(): void {
  try {
    const st = fstatSync(2);
    if (st.isFIFO() || st.isSocket()) setNonBlocking(2);
  } catch {}
}

/**
 * The composition root: builds every part of the daemon, serves until
 * shutdown, and resolves with the process exit code.
 */
export async function runDaemon(opts: RunDaemonOptions): Promise<number> {
  // A relative ADI_HOME means this directory: services, in theirs, are handed absolute paths (ADI_DAEMON_SOCKET).
  const paths = opts.paths ?? resolvePaths(withAbsolutePaths(process.env));
  const warnings = new Set<string>();
  preparePaths(paths, false);
  // In the foreground, a stderr pipe or socket nobody reads must cost log lines, not the daemon (logger.ts StderrLines).
  if (!opts.background) nonBlockingStderr();
  let logProblem: string | null = null;
  const logger = createLogger(opts.background ? paths.daemonLog : null, process.env.ADI_LOG_LEVEL === "debug" ? "debug" : "info", (err) => {
    if (logProblem) warnings.delete(logProblem);
    logProblem = err && `daemon log ${paths.daemonLog} is not writable: ${err.message}`;
    if (logProblem) warnings.add(logProblem);
  });
  try {
    return await serve(paths, logger, warnings, opts.background);
  } catch (err) {
    // In the background stderr goes nowhere: the reason goes to the log, where `adi daemon start` points.
    if (opts.background) logger.error("the daemon could not start", { error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

/** Everything after the logger: take the instance, serve until shutdown, resolve with the exit code. */
async function serve(paths: AdiPaths, logger: Logger, warnings: Set<string>, background: boolean): Promise<number> {
  // First: a socket path the platform cannot bind (too long) is refused before anything else is done.
  const address = socketAddress(paths.socket);
  const tooLong = socketTooLong(paths.socket);
  if (tooLong) throw tooLong;
  const lock = await acquireInstance(paths, logger);
  if (lock === "already-running") {
    logger.info("a daemon is already running for this ADI_HOME", { socket: paths.socket });
    return 0;
  }
  preparePaths(paths);
  await clearStaleSocket(paths.socket, address);

  let stopping: Promise<void> | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  // Privilege (DESIGN §7): isolation detection, run/sudo_run, caller identity, socket mode.
  // A plugin's services (DESIGN §6) spawn only once isolation is known, which then supplies runAs;
  // the owner's run as the owner in every mode and do not wait (privilege.spawnReady).
  const services = new ServiceManager({
    paths,
    logger,
    warnings,
    spawnReady: (service) => privilege.spawnReady(service),
    runAs: (service) => privilege.runAs(service),
  });
  const privilege = setupPrivilege({ paths, logger, warnings, findBySession: (sid) => services.findBySession(sid) });
  // Before serving: read manifests and state, kill what a crashed daemon left running.
  await services.init();

  const ctx: DaemonContext = {
    paths,
    logger,
    version: VERSION,
    startedAt: performance.now(),
    warnings,
    logPath: background ? paths.daemonLog : "",
    stopping: () => stopping !== null,
    isolation: () => privilege.isolation(),
    shutdown(graceful) {
      // A forced shutdown during a graceful one KILLs what that one still waits for.
      if (stopping && !graceful) void services.stopAll(false);
      stopping ??= (async () => {
        logger.info("shutting down", { graceful });
        await services.stopAll(graceful);
        // One turn of the loop first: the answers to requests that waited on these stops (a `stop NAME`
        // sent during the shutdown) go out before the connections close.
        await new Promise((r) => setTimeout(r, 0));
        removePidFile(paths.pidFile, process.pid);
        server.stop();
        privilege.audit.flush();
        closeSync(lock);
        logger.info("daemon stopped");
        resolveDone();
      })();
      return stopping;
    },
  };

  const warn = (message: string) => {
    warnings.add(message); // in `adi daemon status`
    logger.warn(message);
  };
  const router = new Router({ ...coreMethods(ctx, () => services.counts()), ...serviceMethods(services), ...privilege.methods }, logger);
  const server = withUmask(privilege.socketUmask, () =>
    startServer({
      address,
      router,
      logger,
      identify: privilege.identify,
      maxConnections: envInt("ADI_MAX_CONNECTIONS", MAX_CONNECTIONS_LIMIT, warn),
      readDeadlineMs: envInt("ADI_READ_DEADLINE_MS", MAX_READ_DEADLINE_MS, warn),
    }),
  );
  writePidFile(paths.pidFile, process.pid);
  void privilege.detect();

  process.on("SIGTERM", () => void ctx.shutdown(true));
  process.on("SIGINT", () => void ctx.shutdown(true));
  // logrotate: after a rename, SIGHUP makes every log (the daemon's, the audit log and each service's) reopen its path.
  process.on("SIGHUP", () => {
    logger.reopen();
    privilege.audit.reopen();
    services.reopenLogs();
    logger.info("log files reopened (SIGHUP)");
  });

  logger.info("daemon started", { pid: process.pid, version: VERSION, socket: paths.socket });
  void services.startDesired();
  await done;
  return 0;
}
