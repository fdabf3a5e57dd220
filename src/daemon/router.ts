import type { Request } from "../gen/adi/daemon/v1/daemon_wire.ts";
import { AdiError, ErrorCode } from "../errors.ts";
import { errorResponse, type RequestKind, type RequestOf, type ResponseKindInit } from "../protocol/index.ts";
import type { Caller } from "./caller.ts";
import type { Connection } from "./connection.ts";
import type { Logger } from "./logger.ts";

export interface Call<K extends RequestKind> {
  id: number;
  request: RequestOf<K>;
  caller: Caller;
  conn: Connection;
}

/**
 * A method handler returns the response, or `undefined` when it answers by
 * itself (streams). `access` is declared per method, like ipnserver: "admin"
 * methods refuse plugin callers before the handler runs; "any" handlers
 * scope what they do to the caller.
 */
export interface Method<K extends RequestKind> {
  access: "admin" | "any";
  handle(call: Call<K>): ResponseKindInit | undefined | Promise<ResponseKindInit | undefined>;
}

export type Methods = { [K in RequestKind]?: Method<K> };

/** The proto's name of a request variant ("listServices" -> "list_services"). */
export function wireName(kind: string): string {
  return kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Dispatches decoded requests by their oneof case. */
export class Router {
  constructor(
    private readonly methods: Methods,
    private readonly logger: Logger,
  ) {}

  /** Answer a request; synchronous handlers (ping, list) reply in the same tick. */
  dispatch(conn: Connection, request: Request): void {
    const { id } = request;
    try {
      const kind = request.kind.case;
      if (kind === undefined) {
        throw new AdiError(ErrorCode.UNIMPLEMENTED, "unknown request variant (is the client newer than the daemon?)");
      }
      const method = this.methods[kind] as Method<typeof kind> | undefined;
      if (!method) throw new AdiError(ErrorCode.UNIMPLEMENTED, `${wireName(kind)} is not implemented by this daemon`);
      if (method.access === "admin" && conn.caller.role !== "admin") {
        throw new AdiError(ErrorCode.PERMISSION_DENIED, `${wireName(kind)} is only allowed for the daemon's owner`);
      }
      const result = method.handle({ id, request: request.kind.value, caller: conn.caller, conn } as Call<typeof kind>);
      if (result instanceof Promise) {
        result.then(
          (response) => response !== undefined && conn.reply(id, response),
          (err) => this.fail(conn, id, err),
        );
      } else if (result !== undefined) {
        conn.reply(id, result);
      }
    } catch (err) {
      this.fail(conn, id, err);
    }
  }

  private fail(conn: Connection, id: number, err: unknown): void {
    const error = AdiError.from(err);
    // Expected errors go back to the caller; only surprises are logged (once, here).
    if (error.code === ErrorCode.INTERNAL) this.logger.error("request failed", { id, error: error.message });
    conn.send(errorResponse(id, error));
  }
}
