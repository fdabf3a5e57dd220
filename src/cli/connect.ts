import { DaemonClient } from "../client/daemon-client.ts";

/** argv that runs this very adi: the compiled binary, or bun + the entry script. */
export function selfLauncher(): string[] {
  const main = Bun.main;
  const compiled = main.startsWith("/$bunfs/") || main.includes("~BUN");
  return compiled ? [process.execPath] : [process.execPath, main];
}

/** A client for this CLI: it starts the daemon with this same binary. */
export function cliClient(timeoutMs?: number): DaemonClient {
  return new DaemonClient({ launcher: selfLauncher(), timeoutMs });
}

/** A client to a daemon that is running, starting it first if needed. */
export async function runningClient(timeoutMs?: number): Promise<DaemonClient> {
  const client = cliClient(timeoutMs);
  if (!(await client.isRunning())) {
    const { withSpinner } = await import("./spinner.ts");
    await withSpinner("starting the adi daemon", () => client.ensureRunning());
  }
  return client;
}
