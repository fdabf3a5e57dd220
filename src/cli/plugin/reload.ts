import { AdiError, ErrorCode } from "../../errors.ts";
import { cliClient } from "../connect.ts";
import { err } from "../output.ts";

/** Tell a running daemon to rescan plugins (its services follow); a stopped daemon reads them at start. */
export async function reloadIfRunning(): Promise<void> {
  const client = cliClient(10_000);
  try {
    if (!(await client.isRunning())) return;
    await client.reloadPlugins();
  } catch (error) {
    if (error instanceof AdiError && error.code === ErrorCode.UNIMPLEMENTED) return;
    err(`warning: the daemon did not reload plugins: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}
