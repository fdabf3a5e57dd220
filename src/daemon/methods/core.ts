import { AdiError, ErrorCode } from "../../errors.ts";
import { uptimeSecs, type DaemonContext } from "../context.ts";
import type { Methods } from "../router.ts";

/** Service counts for `status`; supplied by the service manager. */
export interface ServiceCounts {
  total: number;
  running: number;
  failed: number;
}

/** ping, hello, status, shutdown, cancel_stream: the daemon's own methods. */
export function coreMethods(ctx: DaemonContext, counts: () => ServiceCounts): Methods {
  return {
    ping: {
      access: "any",
      handle: () => ({ case: "pong", value: { uptimeSecs: uptimeSecs(ctx), version: ctx.version, stopping: ctx.stopping() } }),
    },
    hello: {
      access: "any",
      handle: ({ caller }) => ({
        case: "hello",
        value: {
          daemonVersion: ctx.version,
          role: caller.role,
          plugin: caller.plugin ?? "",
          peerUid: caller.uid,
          peerPid: caller.pid,
        },
      }),
    },
    status: {
      access: "any",
      handle: async () => {
        const isolation = await ctx.isolation();
        const c = counts();
        return {
          case: "status",
          value: {
            pid: process.pid,
            uptimeSecs: uptimeSecs(ctx),
            version: ctx.version,
            socketPath: ctx.paths.socket,
            home: ctx.paths.home,
            logPath: ctx.logPath,
            isolation: isolation.enabled,
            isolationReason: isolation.reason,
            servicesTotal: c.total,
            servicesRunning: c.running,
            servicesFailed: c.failed,
            warnings: [...ctx.warnings],
            stopping: ctx.stopping(),
          },
        };
      },
    },
    shutdown: {
      access: "admin",
      handle: ({ id, request, conn }) => {
        ctx.logger.info("shutdown requested", { graceful: request.graceful, pid: conn.caller.pid });
        conn.reply(id, { case: "ok", value: {} });
        // The reply goes out first; closing the connection at the end of
        // shutdown tells the client the daemon is gone.
        setTimeout(() => void ctx.shutdown(request.graceful), 0);
        return undefined;
      },
    },
    cancelStream: {
      access: "any",
      handle: ({ request, conn }) => {
        if (!conn.cancelStream(request.streamId)) {
          throw new AdiError(ErrorCode.NOT_FOUND, `no open stream with id ${request.streamId} on this connection`);
        }
        return { case: "ok", value: {} };
      },
    },
  };
}
