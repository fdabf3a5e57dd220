import { ErrorCode } from "./gen/adi/daemon/v1/daemon_wire.ts";

export { ErrorCode };

/**
 * The one error type of adi. Domain code throws it; the boundaries (router,
 * client, CLI) translate it to a wire `Error`, a rejected promise or an exit
 * code. The code is the proto's, so it survives the trip over the socket.
 */
export class AdiError extends Error {
  override readonly name = "AdiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Any thrown value as an AdiError; unknown failures become INTERNAL. */
  static from(err: unknown): AdiError {
    if (err instanceof AdiError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new AdiError(ErrorCode.INTERNAL, message, { cause: err });
  }
}

/** Lower-case name of a code for humans and JSON ("not_found"). */
export function errorCodeName(code: ErrorCode): string {
  return (ErrorCode[code] ?? "unspecified").toLowerCase();
}
