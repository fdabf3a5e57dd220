import { AdiError, ErrorCode } from "../errors.ts";

/** Exit codes (DESIGN §5). */
export const Exit = {
  ok: 0,
  failed: 1,
  usage: 2,
  notRunning: 3,
  denied: 4,
} as const;

/** Thrown by a command to end with a code after printing its own output. */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof ExitWith) return error.code;
  if (error instanceof AdiError) {
    switch (error.code) {
      case ErrorCode.UNAVAILABLE:
        return Exit.notRunning;
      case ErrorCode.PERMISSION_DENIED:
        return Exit.denied;
      case ErrorCode.INVALID_ARGUMENT:
        return Exit.usage;
      default:
        return Exit.failed;
    }
  }
  // citty's argument errors (unknown command, missing argument).
  if (error instanceof Error && error.name === "CLIError") return Exit.usage;
  return Exit.failed;
}

export function usageError(message: string): AdiError {
  return new AdiError(ErrorCode.INVALID_ARGUMENT, message);
}
