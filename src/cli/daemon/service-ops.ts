import { AdiError, ErrorCode } from "../../errors.ts";
import { cliClient, runningClient } from "../connect.ts";
import { Exit, ExitWith } from "../exit.ts";
import { err, out } from "../output.ts";
import { withSpinner } from "../spinner.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { manyServices, serviceNames } from "./many.ts";

/**
 * `adi daemon stop NAME…` and `adi daemon restart NAME…`, without citty: the
 * citty commands call these, and so does the fast path (cli/fast-path.ts)
 * for names with no flag.
 */

function needNames(words: string[]): string[] {
  const names = serviceNames(words);
  if (names.length === 0) throw new AdiError(ErrorCode.INVALID_ARGUMENT, "no service name given");
  return names;
}

/** Stopping never starts a daemon: an UNAVAILABLE error says it is not running, with `what`. */
export function notRunning(error: unknown, what: string): never {
  if (!(error instanceof AdiError) || error.code !== ErrorCode.UNAVAILABLE) throw error;
  err(`adi daemon is not running: ${what}`);
  throw new ExitWith(Exit.notRunning);
}

/** `words`: the command's positional arguments (repeats and empty words dropped). */
export async function stopServices(words: string[], force = false): Promise<void> {
  const names = needNames(words);
  const client = cliClient(SERVICE_OP_TIMEOUT_MS);
  try {
    if (!(await client.isRunning())) notRunning(new AdiError(ErrorCode.UNAVAILABLE, ""), `no service runs, ${names[0]} neither`);
    if (names.length > 1) {
      return await manyServices(names, { doing: "stopping", done: "stopped" }, (c, name) => c.stopService(name, { force }), client);
    }
    const name = names[0]!;
    await withSpinner(force ? `killing ${name}` : `stopping ${name} (KILL after its stop timeout)`, () => client.stopService(name, { force }));
    out(`stopped ${name}`);
  } finally {
    client.close();
  }
}

export async function restartServices(words: string[]): Promise<void> {
  const names = needNames(words);
  if (names.length > 1) return manyServices(names, { doing: "restarting", done: "restarted" }, (c, name) => c.restartService(name));
  const name = names[0]!;
  const client = await runningClient(SERVICE_OP_TIMEOUT_MS);
  try {
    await withSpinner(`restarting ${name}`, () => client.restartService(name));
    out(`restarted ${name}`);
  } finally {
    client.close();
  }
}
