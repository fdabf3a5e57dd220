import { LogStream } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { encodeBatchFrames, encodeLogLineFrame, encodeLogsFrame } from "../../protocol/log-frames.ts";
import type { Caller } from "../caller.ts";
import type { Connection } from "../connection.ts";
import type { Methods } from "../router.ts";
import type { ServiceManager } from "../services/manager.ts";
import type { LogBatch, LogEntry } from "../services/service-log.ts";
import type { Service } from "../services/service.ts";

/** Lines sent by `logs NAME` without -n. */
const DEFAULT_TAIL = 100;
/**
 * A follower whose connection has this much output waiting skips lines
 * (counted) instead of queueing more; once it has caught up it gets one
 * marker line saying how many it missed. The service and the other
 * followers never wait for it.
 */
export const FOLLOWER_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Frames of log lines are kept to about this size, well under the 16 MiB response limit. */
const MAX_FRAME_BYTES = 1024 * 1024;
/*
 * A `logs -n` answer is one frame, and always fits: the ring holds at most
 * 1000 lines of at most 16 KiB (line-bytes.ts), and a line's other fields
 * (a service name of ≤ 64 bytes, stream, time, headers) add < 100 bytes:
 * < 16.5 MB against the 16 MiB frame.
 */

/** Plugins act only on their own plugin's services. */
function checkAccess(caller: Caller, service: Service, what: string): void {
  if (caller.role === "admin") return;
  if (!caller.plugin || service.spec.plugin !== caller.plugin) {
    throw new AdiError(ErrorCode.PERMISSION_DENIED, `plugin ${caller.plugin ?? "?"} may not ${what} ${service.name}: it belongs to ${service.spec.plugin ? `plugin ${service.spec.plugin}` : "the owner"}`);
  }
}

/**
 * Per follower: pass batches through while its connection keeps up; while
 * more than FOLLOWER_MAX_QUEUED_BYTES wait for it, count lines instead of
 * queueing them. Once it has caught up (checked on the next batch, or by a
 * timer when the service has gone quiet) it gets one marker line.
 */
class SlowFollowerGuard {
  private skipped = 0;
  private timer: Timer | null = null;

  constructor(
    private readonly conn: Connection,
    private readonly id: number,
    private readonly service: string,
  ) {}

  offer(batch: LogBatch): void {
    if (this.conn.isClosed) return;
    if (this.behind()) return this.skip(batch.ends.length);
    // A big batch is several frames: the reader may fall behind between them.
    encodeBatchFrames(this.id, batch, MAX_FRAME_BYTES, (frame, lines) => {
      if (this.behind()) return this.skip(lines);
      if (this.skipped > 0) this.sendMarker();
      this.conn.sendFrame(this.id, frame, true);
    });
  }

  private behind(): boolean {
    return this.conn.out.queuedBytes > FOLLOWER_MAX_QUEUED_BYTES;
  }

  private skip(lines: number): void {
    this.skipped += lines;
    this.timer ??= setInterval(() => this.catchUp(), 100);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private catchUp(): void {
    if (this.conn.isClosed) return this.close();
    if (this.skipped === 0) return this.close();
    if (this.behind()) return;
    this.sendMarker();
  }

  private sendMarker(): void {
    const text = `… ${this.skipped} lines skipped: reader too slow`;
    this.skipped = 0;
    this.close();
    this.conn.sendFrame(this.id, encodeLogLineFrame(this.id, { service: this.service, stream: LogStream.SYSTEM, timeUnixMs: Date.now(), text }));
  }
}

/**
 * Send a backlog as log_line (one line) or logs frames (many, split by size:
 * counted in UTF-16 units, not bytes, so a frame of CJK text may reach three
 * times MAX_FRAME_BYTES, still far under the 16 MiB limit).
 */
function sendBacklog(conn: Connection, id: number, lines: LogEntry[]): void {
  if (lines.length === 1) {
    conn.sendFrame(id, encodeLogLineFrame(id, lines[0]!));
    return;
  }
  let start = 0;
  let chars = 0;
  for (let i = 0; i < lines.length; i++) {
    chars += lines[i]!.text.length + 32;
    if (chars >= MAX_FRAME_BYTES || i === lines.length - 1) {
      conn.sendFrame(id, encodeLogsFrame(id, start === 0 && i === lines.length - 1 ? lines : lines.slice(start, i + 1)));
      start = i + 1;
      chars = 0;
    }
  }
}

/** start/stop/restart/remove/list services, logs (with follow), events, reload_plugins. */
export function serviceMethods(manager: ServiceManager): Methods {
  return {
    startService: {
      access: "any",
      handle: async ({ request, caller }) => {
        if (request.config) {
          if (caller.role !== "admin") throw new AdiError(ErrorCode.PERMISSION_DENIED, "only the daemon's owner may define ad-hoc services");
          await manager.start(request.name, request.config);
        } else {
          const service = manager.resolve(request.name);
          checkAccess(caller, service, "start");
          await service.start();
        }
        return { case: "ok", value: {} };
      },
    },
    stopService: {
      access: "any",
      handle: async ({ request, caller }) => {
        const service = manager.resolve(request.name);
        checkAccess(caller, service, "stop");
        await service.stop(request.force);
        return { case: "ok", value: {} };
      },
    },
    restartService: {
      access: "any",
      handle: async ({ request, caller }) => {
        const service = manager.resolve(request.name);
        checkAccess(caller, service, "restart");
        await service.restart();
        return { case: "ok", value: {} };
      },
    },
    removeService: {
      access: "admin",
      handle: async ({ request }) => {
        await manager.removeAdhoc(request.name);
        return { case: "ok", value: {} };
      },
    },
    listServices: {
      access: "any",
      handle: () => ({ case: "services", value: { list: manager.list() } }),
    },
    serviceLogs: {
      access: "any",
      handle: ({ id, request, caller, conn }) => {
        const service = manager.resolve(request.name);
        checkAccess(caller, service, "read the logs of");
        const backlog = service.log.tail(request.lines || (request.follow ? 0 : DEFAULT_TAIL));
        if (!request.follow) {
          conn.sendFrame(id, encodeLogsFrame(id, backlog));
          return undefined;
        }
        // Everything cancelling calls is defined before the stream is registered: sending the
        // backlog may take the connection over its output cap, and closing it cancels the stream
        // there and then (an `end` not yet defined threw, out of the connection's close).
        let ended = false;
        let unfollow = () => {};
        const follower = new SlowFollowerGuard(conn, id, service.name);
        const end = (reason: string) => {
          if (ended) return;
          ended = true;
          unfollow();
          follower.close();
          conn.reply(id, { case: "streamEnd", value: { reason } });
        };
        // Registered before anything is sent (it may refuse).
        conn.openStream(id, () => end("cancelled"));
        if (backlog.length > 0) sendBacklog(conn, id, backlog);
        // Ended by that close, or the connection closed before the stream was registered (its
        // close cancelled only the streams it had): nothing to follow, no listener left behind.
        if (ended || conn.isClosed) return undefined;
        unfollow = service.log.follow(
          (batch) => follower.offer(batch),
          (reason) => {
            conn.forgetStream(id);
            end(reason);
          },
        );
        return undefined;
      },
    },
    watchEvents: {
      access: "any",
      handle: ({ id, caller, conn }) => {
        // As for a log follow: what cancelling calls exists before the stream is registered.
        let ended = false;
        let unsubscribe = () => {};
        // Registered first (it may refuse).
        conn.openStream(id, () => {
          if (ended) return;
          ended = true;
          unsubscribe();
          conn.reply(id, { case: "streamEnd", value: { reason: "cancelled" } });
        });
        // A connection closed before the stream was registered never cancels it: nothing to watch.
        if (conn.isClosed) return undefined;
        unsubscribe = manager.onEvent((event) => {
          if (conn.out.queuedBytes > FOLLOWER_MAX_QUEUED_BYTES) return;
          if (caller.role !== "admin" && (!caller.plugin || manager.pluginOf(event.service ?? "") !== caller.plugin)) return;
          conn.reply(id, { case: "event", value: event });
        });
        return undefined;
      },
    },
    reloadPlugins: {
      access: "admin",
      handle: async () => {
        await manager.reloadPlugins();
        return { case: "ok", value: {} };
      },
    },
  };
}
