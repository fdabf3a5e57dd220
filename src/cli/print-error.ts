import { AdiError } from "../errors.ts";
import { ExitWith, exitCodeFor } from "./exit.ts";
import { colorEnabled, err, paint, stripColor } from "./output.ts";

/**
 * Report what ended a command on stderr and give its exit code. ExitWith has
 * printed its own output already; an AdiError or a usage error prints its
 * message, anything else its stack (a bug: the stack is what a report needs).
 */
export function printError(error: unknown): number {
  const code = exitCodeFor(error);
  if (error instanceof ExitWith) return code;
  const isUsage = error instanceof Error && error.name === "CLIError";
  const message = error instanceof AdiError || isUsage ? (error as Error).message : String((error as Error)?.stack ?? error);
  err(`${paint(2, "red", "error")}: ${colorEnabled(2) ? message : stripColor(message)}`);
  return code;
}
