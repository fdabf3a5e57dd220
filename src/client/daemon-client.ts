import {
  createLogLine,
  LogStream,
  type CommandResult,
  type DaemonStatus,
  type HelloReply,
  type LogLine,
  type Pong,
  type Response,
  type ServiceConfigInit,
  type ServiceEvent,
  type ServiceInfo,
  type SudoDenied,
} from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import type { RequestKindInit } from "../protocol/index.ts";
import { ClientConnection, DEFAULT_TIMEOUT_MS, unexpected } from "./connection.ts";
import { defaultLauncher, spawnDaemon, START_DEADLINE_MS } from "./launch.ts";
import { PushIterator } from "./stream.ts";
import { clientDaemonLogPath, clientSocketPath, withAbsolutePaths } from "../protocol/transport.ts";

/** A service definition for {@link DaemonClient.startService}, as a plain object (`{ command, args, env, … }`). */
export type { ServiceConfigInit };

export interface DaemonClientOptions {
  /**
   * Socket path (`@name` = Linux abstract socket). Default: ADI_DAEMON_SOCKET,
   * else `\\.\pipe\adi-daemon` on Windows, else `$ADI_HOME/daemon.sock`.
   * A service started by the daemon gets ADI_DAEMON_SOCKET in its environment.
   */
  socketPath?: string;
  /** Per-request timeout in ms (default 10 s). Streams have none. */
  timeoutMs?: number;
  /** argv that runs adi, for ensureRunning (default: ADI_BIN, else `adi` on PATH). */
  launcher?: string[];
  /** Environment for a daemon started by ensureRunning (default: this process's). */
  env?: Record<string, string | undefined>;
}

/** What {@link DaemonClient.sudoRun} answers: the command's result, or why it was not run. */
/** Lines a follow keeps for a loop that reads slower than they come (logs `maxQueued`); past that they are skipped and told. */
export const FOLLOW_MAX_QUEUED_LINES = 10_000;

/** A followed log: the lines as they come, and how many have arrived so far (read or not). */
export type FollowedLines = AsyncIterableIterator<LogLine> & { readonly received: number };

export type SudoRunResult = { allowed: true; result: CommandResult } | { allowed: false; reason: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How often ensureRunning asks a daemon that is shutting down whether it is gone. */
const STOPPING_POLL_MS = 20;

/** What the calls {@link DaemonClient.close} finds waiting get, including those waiting for a connection being opened. */
function clientClosedError(): AdiError {
  return new AdiError(ErrorCode.CANCELLED, "the client was closed");
}

/**
 * The client plugins and the CLI use to talk to the daemon.
 *
 * - One lazily opened connection carries every call, many in flight at once
 *   (each request has its own id), log streams beside them.
 * - Every failure is an {@link AdiError} with a proto `ErrorCode`:
 *   UNAVAILABLE when the daemon is not running or the connection dropped
 *   (every pending call rejects), RESOURCE_EXHAUSTED when it is there but
 *   its queue of connections waiting to be accepted is full (Linux),
 *   DEADLINE_EXCEEDED when a call times out,
 *   and the daemon's own code (NOT_FOUND, PERMISSION_DENIED, …) otherwise.
 * - No reconnect and no retry: after a drop the next call opens a new
 *   connection; whether to repeat a call is the caller's decision.
 *
 * ```ts
 * import { DaemonClient } from "adi/client";
 * const client = new DaemonClient();
 * const { version } = await client.ping();
 * for await (const line of client.logs("web", { lines: 10, follow: true })) console.log(line.text);
 * client.close();
 * ```
 */
export class DaemonClient {
  /** The socket path (or pipe name) this client connects to. */
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly env: Record<string, string | undefined>;
  private readonly launcher?: string[];
  private conn: ClientConnection | null = null;
  private connecting: Promise<ClientConnection> | null = null;
  /** Counts close() calls: a connection opened before the latest one is closed as it arrives. */
  private closes = 0;

  /** Nothing is opened yet: the first call connects. See {@link DaemonClientOptions} for the defaults. */
  constructor(opts: DaemonClientOptions = {}) {
    this.env = opts.env ?? process.env;
    this.socketPath = opts.socketPath ?? clientSocketPath(this.env);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.launcher = opts.launcher;
  }

  // ------------------------------------------------------------ lifecycle

  /**
   * True when a daemon answers a ping and is not shutting down; false when
   * nothing listens (UNAVAILABLE) or the daemon that answers is stopping.
   * A daemon with its listen queue full rejects (RESOURCE_EXHAUSTED).
   */
  async isRunning(): Promise<boolean> {
    return (await this.daemonState()) === "running";
  }

  /**
   * "running"; "stopping" when the daemon is shutting down (it answers until
   * its services have stopped, then exits); "stopped" when nothing listens.
   * Rejects as {@link isRunning} does.
   */
  async daemonState(): Promise<"running" | "stopping" | "stopped"> {
    try {
      return (await this.ping()).stopping ? "stopping" : "running";
    } catch (err) {
      if (err instanceof AdiError && err.code === ErrorCode.UNAVAILABLE) return "stopped";
      throw err;
    }
  }

  /**
   * Start the daemon if nothing answers. Safe under races: every racer may
   * spawn one, exactly one wins the daemon's lock, the rest exit and every
   * caller returns once the winner answers. A daemon that is shutting down
   * is waited for, however long its services take to stop, and then a new
   * one is started (as a `systemctl start` queued behind a stop job).
   * Needs the `adi` binary: the `launcher` option, else ADI_BIN, else `adi`
   * on PATH. Rejects with UNAVAILABLE when the daemon exits or does not
   * answer within 5 s, and as isRunning does, without starting one, when a
   * daemon is there with its listen queue full. Once it has launched one, a
   * full queue is waited on (a daemon busy at its start while many clients
   * race): RESOURCE_EXHAUSTED only if the queue is still full at the deadline.
   */
  async ensureRunning(): Promise<void> {
    let state = await this.daemonState();
    while (state === "stopping") {
      await sleep(STOPPING_POLL_MS);
      state = await this.daemonState();
    }
    if (state === "running") return;
    const launcher = this.launcher ?? defaultLauncher(this.env);
    const env = { ...this.env, ADI_DAEMON_SOCKET: this.socketPath };
    let earlyExit: number | null = null;
    spawnDaemon(launcher, env).then((code) => {
      earlyExit = code;
    });
    let deadline = performance.now() + START_DEADLINE_MS;
    let delay = 2;
    let busy: AdiError | null = null;
    while (performance.now() < deadline) {
      try {
        state = await this.daemonState();
        if (state === "running") return;
        // Another stop began meanwhile: the daemon just launched waits for that one's lock.
        if (state === "stopping") deadline = performance.now() + START_DEADLINE_MS;
        busy = null;
      } catch (err) {
        if (!(err instanceof AdiError && err.code === ErrorCode.RESOURCE_EXHAUSTED)) throw err;
        busy = err;
      }
      if (earlyExit !== null && earlyExit !== 0) {
        throw new AdiError(
          ErrorCode.UNAVAILABLE,
          `the daemon exited with code ${earlyExit} while starting: its log says why (${clientDaemonLogPath(withAbsolutePaths(this.env))}), or run \`adi daemon run\``,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
    throw busy ?? new AdiError(ErrorCode.UNAVAILABLE, `the daemon did not answer within ${START_DEADLINE_MS} ms of being started`);
  }

  /**
   * Close the connection; pending calls reject with CANCELLED and open
   * streams end. A connection still being opened is closed as soon as it is,
   * carrying nothing (its socket would keep the process alive), and the calls
   * waiting for it reject too. A later call connects again.
   */
  close(): void {
    this.closes++;
    this.connecting = null;
    this.conn?.close();
    this.conn = null;
  }

  // ------------------------------------------------------------ calls

  /** Liveness and identity: the daemon's version and uptime. */
  async ping(): Promise<Pong> {
    const kind = await this.call({ case: "ping", value: {} });
    if (kind.case !== "pong") throw unexpected(kind, "pong");
    return kind.value;
  }

  /** Introduce this client; the reply carries the daemon's version and who the daemon thinks the caller is. */
  async hello(clientVersion = ""): Promise<HelloReply> {
    const kind = await this.call({ case: "hello", value: { clientVersion } });
    if (kind.case !== "hello") throw unexpected(kind, "hello");
    return kind.value;
  }

  /** The daemon's pid, paths, isolation state, warnings and service counts (what `adi daemon status` prints). */
  async status(): Promise<DaemonStatus> {
    const kind = await this.call({ case: "status", value: {} });
    if (kind.case !== "status") throw unexpected(kind, "status");
    return kind.value;
  }

  /**
   * Ask the daemon to stop. Resolves once it has stopped every service and
   * closed the connection (graceful stops can take the services' stop timeouts).
   */
  async shutdown(graceful = true): Promise<void> {
    const conn = await this.connection();
    await new Promise<void>((resolve, reject) => {
      conn.send(
        { case: "shutdown", value: { graceful } },
        (response) => {
          if (response.kind.case === "error") reject(new AdiError(response.kind.value.code, response.kind.value.message));
          return response.kind.case === "error";
        },
        // The daemon closing the connection is the success signal.
        (err) => (err.code === ErrorCode.UNAVAILABLE ? resolve() : reject(err)),
        0,
      );
    });
    this.conn = null;
  }

  /**
   * Start a service: a known one (plugin manifest, daemon.toml) by name, or an
   * ad-hoc one when `config` is given. Resolves once the daemon accepted it
   * (watch `listServices`/`watchEvents` for RUNNING); a no-op when it already runs.
   */
  async startService(name: string, config?: ServiceConfigInit): Promise<void> {
    await this.expectOk({ case: "startService", value: { name, config } });
  }

  /** Owner only: stop an ad-hoc service and forget it (its log file stays); a plugin's service answers FAILED_PRECONDITION. */
  async removeService(name: string): Promise<void> {
    await this.expectOk({ case: "removeService", value: { name } });
  }

  /** Stop a service (TERM to its process group, KILL after its stop timeout; `force` kills at once). */
  async stopService(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.expectOk({ case: "stopService", value: { name, force: opts.force ?? false } });
  }

  /** Stop then start a service with its current configuration. */
  async restartService(name: string): Promise<void> {
    await this.expectOk({ case: "restartService", value: { name } });
  }

  /** Every service the daemon knows: name, state, pid, uptime, restarts, last error. */
  async listServices(): Promise<ServiceInfo[]> {
    const kind = await this.call({ case: "listServices", value: {} });
    if (kind.case !== "services") throw unexpected(kind, "services");
    return kind.value.list;
  }

  /**
   * The last `lines` lines (0 = the daemon's default) of a service's output. NOT_FOUND for an unknown service.
   * `onAnswer` runs as the answer arrives, before anything this client receives after it: read a follow
   * stream's `received` there to know how many of its lines the answer also holds (`adi daemon logs -f`).
   */
  logs(name: string, opts?: { lines?: number; follow?: false; onAnswer?: () => void }): Promise<LogLine[]>;
  /**
   * The last `lines` lines, then every new line as it is written. Leaving the
   * `for await` loop (break/return/throw) sends `cancel_stream`; the iterator
   * throws an AdiError if the stream fails or the connection drops.
   * `received` counts the lines that have arrived, read or not.
   */
  logs(name: string, opts: { lines?: number; follow: true; maxQueued?: number }): FollowedLines;
  logs(name: string, opts: { lines?: number; follow?: boolean; onAnswer?: () => void; maxQueued?: number } = {}): Promise<LogLine[]> | FollowedLines {
    const request: RequestKindInit = { case: "serviceLogs", value: { name, lines: opts.lines ?? 0, follow: opts.follow ?? false } };
    if (opts.follow) {
      // A loop that reads slower than the service writes: lines past maxQueued are dropped and told,
      // as the daemon does for a reader that falls behind on its side (this one reads the socket in time).
      const skipped = (count: number) => createLogLine({ service: name, stream: LogStream.SYSTEM, timeUnixMs: Date.now(), text: `… ${count} lines skipped: reader too slow` });
      return this.stream(
        request,
        (kind, push) => {
          if (kind.case === "logLine") push(kind.value);
          else if (kind.case === "logs") for (const line of kind.value.lines) push(line);
        },
        opts.maxQueued ?? FOLLOW_MAX_QUEUED_LINES,
        skipped,
      );
    }
    return this.call(request, this.timeoutMs, opts.onAnswer).then((kind) => {
      if (kind.case !== "logs") throw unexpected(kind, "logs");
      return kind.value.lines;
    });
  }

  /** Service state changes as they happen, until the loop is left (which cancels the stream). */
  watchEvents(): AsyncIterableIterator<ServiceEvent> {
    return this.stream({ case: "watchEvents", value: {} }, (kind, push) => {
      if (kind.case === "event") push(kind.value);
    });
  }

  /**
   * Run a command (never through a shell) as the unprivileged ADI_USER, or as
   * the daemon's owner when isolation is off. Resolves with exit code and
   * captured output; `timeoutMs` bounds the command (daemon default 60 s).
   */
  async run(command: string, args: string[] = [], opts: { timeoutMs?: number } = {}): Promise<CommandResult> {
    const kind = await this.call({ case: "run", value: { command, args, timeoutMs: opts.timeoutMs ?? 0 } }, this.commandTimeout(opts.timeoutMs));
    if (kind.case !== "commandResult") throw unexpected(kind, "commandResult");
    return kind.value;
  }

  /**
   * Run a privileged command as ADI_ROOT_USER through `sudo -n`. Only a caller
   * identified as a plugin's service, with an argv matching a pattern the user
   * approved at install, is allowed; anything else resolves `{ allowed: false, reason }`
   * (also when isolation is off). `reason` is written to the audit log.
   */
  async sudoRun(command: string, args: string[], reason: string, opts: { timeoutMs?: number } = {}): Promise<SudoRunResult> {
    const kind = await this.call(
      { case: "sudoRun", value: { command, args, reason, timeoutMs: opts.timeoutMs ?? 0 } },
      this.commandTimeout(opts.timeoutMs),
    );
    if (kind.case === "commandResult") return { allowed: true, result: kind.value };
    if (kind.case === "sudoDenied") return { allowed: false, reason: (kind.value as SudoDenied).reason };
    throw unexpected(kind, "commandResult or sudoDenied");
  }

  /** Ask the daemon to re-read plugin manifests and approvals. */
  async reloadPlugins(): Promise<void> {
    await this.expectOk({ case: "reloadPlugins", value: {} });
  }

  // ------------------------------------------------------------ plumbing

  /** Commands run up to their own timeout (default 60 s): wait a little longer than that. */
  private commandTimeout(commandTimeoutMs?: number): number {
    return Math.max(this.timeoutMs, (commandTimeoutMs || 60_000) + 5_000);
  }

  private async expectOk(request: RequestKindInit): Promise<void> {
    const kind = await this.call(request);
    if (kind.case !== "ok") throw unexpected(kind, "ok");
  }

  private call(request: RequestKindInit, timeoutMs = this.timeoutMs, onAnswer?: () => void): Promise<Response["kind"]> {
    // An open connection is used at once: awaiting connection() would add a turn to every call.
    if (this.conn?.isOpen) return this.conn.call(request, timeoutMs, onAnswer);
    return this.connection().then((conn) => conn.call(request, timeoutMs, onAnswer));
  }

  /**
   * The request goes out at once on an open connection, else once one is
   * open, unless the iterator was left before then: then it is never sent,
   * and the daemon holds no stream slot for it. Once sent, leaving the
   * iterator forgets its id and sends cancel_stream.
   */
  private stream<T>(
    request: RequestKindInit,
    onKind: (kind: Response["kind"], push: (item: T) => void) => void,
    maxQueued = Infinity,
    skipped?: (count: number) => T,
  ): PushIterator<T> {
    let conn: ClientConnection | null = null;
    let id = 0;
    let left = false;
    const cancel = () => {
      left = true;
      if (!conn || !id) return;
      conn.forget(id);
      if (conn.isOpen) conn.send({ case: "cancelStream", value: { streamId: id } }, () => true, () => {}, this.timeoutMs);
    };
    const iterator = new PushIterator<T>(cancel, maxQueued, skipped);
    const send = (c: ClientConnection) => {
      // Left while the connection was opening: the request is not sent at all.
      if (left) return;
      conn = c;
      id = c.send(
        request,
        (response) => {
          const kind = response.kind;
          if (kind.case === "error") {
            iterator.end(new AdiError(kind.value.code, kind.value.message));
            return true;
          }
          if (kind.case === "streamEnd") {
            iterator.end();
            return true;
          }
          onKind(kind, (item) => iterator.push(item));
          return false;
        },
        (err) => iterator.end(err),
        0,
      );
    };
    if (this.conn?.isOpen) send(this.conn);
    else this.connection().then(send, (err: AdiError) => iterator.end(err));
    return iterator;
  }

  private connection(): Promise<ClientConnection> {
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    if (this.connecting) return this.connecting;
    const closes = this.closes;
    const connecting: Promise<ClientConnection> = ClientConnection.open(this.socketPath)
      .then((conn) => {
        // close() came while it was opening: it carries nothing and is closed at once.
        if (this.closes !== closes) {
          conn.close();
          throw clientClosedError();
        }
        this.conn = conn;
        return conn;
      })
      .finally(() => {
        if (this.connecting === connecting) this.connecting = null;
      });
    this.connecting = connecting;
    return connecting;
  }
}
