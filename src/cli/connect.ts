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

/** A client to a daemon that is running, starting it first if needed (after one that is shutting down has exited). */
export async function runningClient(timeoutMs?: number): Promise<DaemonClient> {
  const client = cliClient(timeoutMs);
  const state = await client.daemonState();
  if (state !== "running") await startWithSpinner(client, state);
  return client;
}

/** ensureRunning behind a spinner that says what is being waited for. */
export async function startWithSpinner(client: DaemonClient, state: "stopping" | "stopped"): Promise<void> {
  const { withSpinner } = await import("./spinner.ts");
  const what = state === "stopping" ? "waiting for the adi daemon to finish shutting down, then starting it" : "starting the adi daemon";
  await withSpinner(what, () => client.ensureRunning());
}
