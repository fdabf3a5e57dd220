import type { Socket, UnixSocketListener } from "bun";
import { AdiError, ErrorCode } from "../errors.ts";
import { decodeRequest, encodeResponseFrame, errorResponse, MAX_TIMER_MS } from "../protocol/index.ts";
import type { Caller, IdentifyPeer } from "./caller.ts";
import { Connection } from "./connection.ts";
import type { Logger } from "./logger.ts";
import { peerCredentials } from "./native.ts";
import type { Router } from "./router.ts";

export interface ServerOptions {
  /** Address for Bun.listen (`\0name` for an abstract socket). */
  address: string;
  router: Router;
  identify: IdentifyPeer;
  logger: Logger;
  /** Connections beyond this are answered RESOURCE_EXHAUSTED and closed; plugins get this less ownerReservedConnections. */
  maxConnections?: number;
  /** A frame left half-sent for this long closes the connection (at most MAX_READ_DEADLINE_MS). */
  readDeadlineMs?: number;
  /** Output one plugin's connections may have waiting together (PLUGIN_MAX_QUEUED_BYTES). */
  pluginMaxQueuedBytes?: number;
}

/**
 * Output that may wait, unread, for one plugin's connections together. Each
 * connection is cut off at 64 MiB (connection.ts MAX_QUEUED_BYTES), but a
 * plugin may hold 240 of them: 40 that asked for 16 MB `run` results and
 * never read them held 714 MB of the daemon. Past this, the connection whose
 * answer goes over it is closed, as one over its own cap is.
 */
const PLUGIN_MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/** The longest half-frame deadline: past MAX_TIMER_MS the timer would fire after 1 ms and cut every client off mid-frame. */
export const MAX_READ_DEADLINE_MS = MAX_TIMER_MS;
/** The most connections ADI_MAX_CONNECTIONS may allow (each holds a descriptor; RLIMIT_NOFILE stops far below). */
export const MAX_CONNECTIONS_LIMIT = 65_536;

/**
 * Connections only the owner (an admin caller) may take: a plugin, or several,
 * holding every slot would lock the owner out, `adi daemon stop` included,
 * until the daemon restarted. A quarter of the cap, at most 64.
 */
export function ownerReservedConnections(maxConnections: number): number {
  return Math.min(64, Math.floor(maxConnections / 4));
}

/**
 * Connections one plugin may hold: a quarter of what plugins may take
 * together, so one plugin that leaks or hoards them cannot keep the others
 * out (a client needs one; `logs --all -f` one per 255 services).
 */
export function pluginConnectionShare(maxConnections: number): number {
  return Math.max(1, Math.floor((maxConnections - ownerReservedConnections(maxConnections)) / 4));
}

/**
 * Each plugin's open connections: the share one plugin may hold
 * (pluginConnectionShare), and the output they may have waiting together
 * (PLUGIN_MAX_QUEUED_BYTES). A plugin caller is counted by its plugin, else
 * by its service; the owner's connections are not counted.
 */
class PluginConnections {
  private readonly byPlugin = new Map<string, Set<Connection>>();

  constructor(
    private readonly share: number,
    private readonly maxQueuedBytes: number,
  ) {}

  /** Why this caller may not open one more connection, or null. */
  refusal(caller: Caller): string | null {
    const plugin = pluginOf(caller);
    const held = plugin === null ? 0 : (this.byPlugin.get(plugin)?.size ?? 0);
    return held < this.share ? null : `plugin ${plugin} holds ${held} connections, the most one plugin may (the rest are for other plugins and the owner)`;
  }

  add(conn: Connection): void {
    const plugin = pluginOf(conn.caller);
    if (plugin === null) return;
    let siblings = this.byPlugin.get(plugin);
    if (!siblings) this.byPlugin.set(plugin, (siblings = new Set()));
    siblings.add(conn);
    const all = siblings;
    conn.overSharedBudget = () => {
      let total = 0;
      for (const c of all) total += c.out.queuedBytes;
      return total > this.maxQueuedBytes;
    };
  }

  delete(conn: Connection): void {
    const plugin = pluginOf(conn.caller);
    const siblings = plugin === null ? undefined : this.byPlugin.get(plugin);
    if (!siblings) return;
    siblings.delete(conn);
    if (siblings.size === 0) this.byPlugin.delete(plugin!);
  }
}

function pluginOf(caller: Caller): string | null {
  return caller.role === "plugin" ? (caller.plugin ?? caller.service ?? "") : null;
}

export interface Server {
  readonly connections: Set<Connection>;
  /** Stop listening (unlinks the socket) and close every connection. */
  stop(): void;
}

interface SocketState {
  conn?: Connection;
  deadline?: Timer;
}

/**
 * Refuse a peer with one error frame (id 0). Only the write side is closed at
 * once: closing outright while the peer's first request sits unread makes the
 * kernel send RST, which discards the error before the peer reads it. What it
 * sends is read and dropped; the socket is closed when the peer closes, or
 * after a second.
 */
function refuse(socket: Socket<SocketState>, error: AdiError): void {
  socket.write(encodeResponseFrame(errorResponse(0, error)));
  socket.shutdown();
  socket.data.deadline = setTimeout(() => socket.end(), 1_000);
}

/** Bun.listen, its error said plainly: Bun throws a bare "Failed to listen at …" that names no cause. */
function listening<T>(address: string, listen: (unix: string) => T): T {
  try {
    return listen(address);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    const shown = address.startsWith("\0") ? `@${address.slice(1)}` : address;
    const why =
      code === "EADDRINUSE"
        ? "EADDRINUSE: another process serves it"
        : code === "EACCES"
          ? "EACCES: this user may not create a socket in that directory"
          : (code ?? String(err));
    throw new AdiError(ErrorCode.FAILED_PRECONDITION, `cannot listen on ${shown}: ${why}`);
  }
}

export function startServer(opts: ServerOptions): Server {
  const { router, identify, logger } = opts;
  const maxConnections = opts.maxConnections ?? 1024;
  const reserved = ownerReservedConnections(maxConnections);
  const plugins = new PluginConnections(pluginConnectionShare(maxConnections), opts.pluginMaxQueuedBytes ?? PLUGIN_MAX_QUEUED_BYTES);
  const readDeadlineMs = opts.readDeadlineMs ?? 10_000;
  const connections = new Set<Connection>();

  const listener: UnixSocketListener<SocketState> = listening(opts.address, (unix) =>
    Bun.listen<SocketState>({
      unix,
      socket: {
        open(socket) {
          socket.data = {};
          const fd = (socket as unknown as { fd: number }).fd;
          const cred = peerCredentials(fd);
          const caller = identify(cred);
          if (!caller) {
            // identify() has logged the refusal with what it saw.
            const why = cred === null ? "the daemon could not read this connection's credentials (see the daemon log)" : "this daemon belongs to another user";
            refuse(socket, new AdiError(ErrorCode.PERMISSION_DENIED, why));
            return;
          }
          // Identified first: plugins may not take the slots kept for the owner.
          const limit = caller.role === "admin" ? maxConnections : maxConnections - reserved;
          if (connections.size >= limit) {
            logger.warn("connection refused: too many connections", { limit, role: caller.role, plugin: caller.plugin, pid: caller.pid });
            const message =
              caller.role === "admin"
                ? `the daemon serves at most ${maxConnections} connections`
                : `the daemon serves plugins at most ${limit} connections (${reserved} more are kept for its owner)`;
            refuse(socket, new AdiError(ErrorCode.RESOURCE_EXHAUSTED, message));
            return;
          }
          const overShare = plugins.refusal(caller);
          if (overShare) {
            logger.warn("connection refused: the plugin holds its share of connections", { plugin: caller.plugin, service: caller.service, pid: caller.pid });
            refuse(socket, new AdiError(ErrorCode.RESOURCE_EXHAUSTED, overShare));
            return;
          }
          const conn = new Connection(socket as unknown as Socket<Connection>, caller);
          plugins.add(conn);
          // A frame begun before reading paused gets its full time once reading resumes.
          conn.onReadResumed = () => {
            if (conn.decoder.pending > 0) startDeadline(socket.data, conn, true);
          };
          socket.data.conn = conn;
          connections.add(conn);
        },
        data(socket, chunk) {
          const state = socket.data;
          const conn = state.conn;
          if (!conn || conn.isClosed) return;
          let frames: Uint8Array[];
          try {
            frames = conn.decoder.push(chunk);
          } catch (err) {
            protocolError(conn, err);
            return;
          }
          conn.loneRequest = frames.length === 1;
          for (const frame of frames) {
            let request;
            try {
              request = decodeRequest(frame);
              // Its answer would carry id 0, which clients take as the connection's end (docs/protocol.md).
              if (request.id === 0) throw new AdiError(ErrorCode.PROTOCOL, "request id 0 is reserved for connection-level errors: number requests from 1");
            } catch (err) {
              conn.loneRequest = false;
              protocolError(conn, err);
              return;
            }
            router.dispatch(conn, request);
          }
          conn.loneRequest = false;
          // A peer that sends half a frame and stalls is cut off after the deadline;
          // one that completes frames is making progress, so its clock restarts.
          if (conn.decoder.pending > 0) {
            startDeadline(state, conn, frames.length > 0);
          } else if (state.deadline) {
            clearTimeout(state.deadline);
            state.deadline = undefined;
          }
        },
        drain(socket) {
          socket.data.conn?.out.drain();
        },
        close(socket) {
          const state = socket.data;
          if (state.deadline) clearTimeout(state.deadline);
          if (state.conn) {
            connections.delete(state.conn);
            plugins.delete(state.conn);
            state.conn.onClosed();
          }
        },
        error(socket, err) {
          logger.debug("socket error", { error: err.message });
        },
      },
    }),
  );

  /** The peer has begun a frame: it has readDeadlineMs to complete it (from now again, with `restart`). */
  function startDeadline(state: SocketState, conn: Connection, restart: boolean): void {
    if (restart) state.deadline?.refresh();
    state.deadline ??= setTimeout(() => {
      state.deadline = undefined;
      // While its requests are left unread (too much output waits) the stall is the daemon's,
      // not the peer's: the clock starts again when reading resumes (onReadResumed).
      if (conn.isReadPaused) return;
      logger.warn("connection closed: frame not completed in time", { ms: readDeadlineMs });
      conn.send(errorResponse(0, new AdiError(ErrorCode.DEADLINE_EXCEEDED, "frame not completed in time")));
      conn.close();
    }, readDeadlineMs);
  }

  function protocolError(conn: Connection, err: unknown): void {
    const error = AdiError.from(err);
    logger.warn("protocol error; closing connection", { pid: conn.caller.pid, error: error.message });
    conn.send(errorResponse(0, new AdiError(ErrorCode.PROTOCOL, error.message)));
    conn.close();
  }

  return {
    connections,
    stop() {
      listener.stop(true);
      for (const conn of connections) conn.close();
    },
  };
}
