import { unexpected } from "../../client/connection.ts";
import type { DaemonClient } from "../../client/daemon-client.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import type { RequestKindInit } from "../../protocol/index.ts";
import { Exit, ExitWith } from "../exit.ts";
import { err, out } from "../output.ts";
import { spinnerShows, withSpinner } from "../spinner.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { reportOutcomes } from "./outcomes.ts";
import { okOverBlockingSocket, outcomesOverBlockingSocket, readOverBlockingSocket } from "./quick-query.ts";

/**
 * `adi daemon start|stop|restart NAME…`, without citty: the citty commands
 * call these, and so does the fast path (cli/fast-path.ts) for plain names
 * (and stop's `--force`).
 *
 * With no spinner to show (stderr is no terminal: a script) the requests go
 * over the blocking socket, one per name, sent together, and DaemonClient is
 * not loaded: ≈ 8 ms of a ≈ 32 ms `stop` (docs/cli.md). A person at a
 * terminal keeps the spinner, which needs the event loop. A connect that
 * finds no daemon (nothing was sent) goes to DaemonClient's path, as before:
 * its ping says the daemon is not running, or it starts one; a daemon whose
 * listen queue is full is an error (RESOURCE_EXHAUSTED), not "not running".
 * A daemon that hangs up once the request is out is an error ("the
 * connection to the daemon was lost"), never a reason to send it again: it
 * may have been carried out.
 */

/** The command's positional arguments, repeats and empty words dropped. */
export function serviceNames(positional: unknown): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const name of positional as string[]) {
    if (name !== "" && !seen.has(name)) names.push(name);
    seen.add(name);
  }
  return names;
}

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

/**
 * From a script (no spinner to draw): the requests over the blocking socket
 * and their outcomes reported; false when DaemonClient must carry them out
 * (another platform, or no daemon answered the connect: nothing was sent).
 */
function overBlockingSocket(names: string[], request: (name: string) => RequestKindInit, done: string): boolean {
  if (spinnerShows()) return false;
  if (names.length === 1) {
    if (!okOverBlockingSocket(request(names[0]!), SERVICE_OP_TIMEOUT_MS)) return false;
    out(`${done} ${names[0]}`);
    return true;
  }
  const requests: RequestKindInit[] = [];
  for (const name of names) requests.push(request(name));
  const outcomes = outcomesOverBlockingSocket(requests, SERVICE_OP_TIMEOUT_MS);
  if (!outcomes) return false;
  reportOutcomes(names, outcomes, done);
  return true;
}

/** `words`: the command's positional arguments (repeats and empty words dropped). */
export async function stopServices(words: string[], force = false): Promise<void> {
  const names = needNames(words);
  const name = names[0]!;
  if (overBlockingSocket(names, (n) => ({ case: "stopService", value: { name: n, force } }), "stopped")) return;
  const [{ cliClient }, { manyServices }] = await Promise.all([import("../connect.ts"), import("./many.ts")]);
  const client = cliClient(SERVICE_OP_TIMEOUT_MS);
  try {
    // A daemon that is shutting down still has the service (stopping it): the stop is asked for there.
    if ((await client.daemonState()) === "stopped") notRunning(new AdiError(ErrorCode.UNAVAILABLE, ""), `no service runs, ${name} neither`);
    if (names.length > 1) {
      return await manyServices(names, { doing: "stopping", done: "stopped" }, (c, n) => c.stopService(n, { force }), client);
    }
    await withSpinner(force ? `killing ${name}` : `stopping ${name} (KILL after its stop timeout)`, () => client.stopService(name, { force }));
    out(`stopped ${name}`);
  } finally {
    client.close();
  }
}

/** `adi daemon remove NAME…`: stop ad-hoc services and forget them. Never starts a daemon: with none running there is nothing to remove. */
export async function removeServices(words: string[]): Promise<void> {
  const names = needNames(words);
  if (overBlockingSocket(names, (n) => ({ case: "removeService", value: { name: n } }), "removed")) return;
  const [{ cliClient }, { manyServices }] = await Promise.all([import("../connect.ts"), import("./many.ts")]);
  const client = cliClient(SERVICE_OP_TIMEOUT_MS);
  try {
    if ((await client.daemonState()) === "stopped") notRunning(new AdiError(ErrorCode.UNAVAILABLE, ""), "there is no service to remove");
    if (names.length > 1) return await manyServices(names, { doing: "removing", done: "removed" }, (c, n) => c.removeService(n), client);
    await withSpinner(`removing ${names[0]} (stopping it first)`, () => client.removeService(names[0]!));
    out(`removed ${names[0]}`);
  } finally {
    client.close();
  }
}

/** start and restart: a daemon that is not running is started first. */
async function startingOp(words: string[], kind: "startService" | "restartService", doing: string, done: string): Promise<void> {
  const names = needNames(words);
  const name = names[0]!;
  if (overBlockingSocket(names, (n) => ({ case: kind, value: { name: n } }), done)) return;
  const [{ runningClient }, { manyServices }] = await Promise.all([import("../connect.ts"), import("./many.ts")]);
  const op = (c: DaemonClient, n: string) => (kind === "startService" ? c.startService(n) : c.restartService(n));
  if (names.length > 1) return manyServices(names, { doing, done }, op);
  const client = await runningClient(SERVICE_OP_TIMEOUT_MS);
  try {
    await withSpinner(`${doing} ${name}`, () => op(client, name));
    out(`${done} ${name}`);
  } finally {
    client.close();
  }
}

/** `adi daemon start` with no name: start the daemon unless it runs (a script's "make sure it is up"). */
export async function startDaemon(): Promise<void> {
  const running = (pid: number) => out(`adi daemon is already running (pid ${pid})`);
  const answers = readOverBlockingSocket([{ case: "status", value: {} }]);
  if (answers) {
    if (answers[0]!.case !== "status") throw unexpected(answers[0]!, "status");
    // One that is shutting down is waited for below, then replaced.
    if (!answers[0]!.value.stopping) return running(answers[0]!.value.pid);
  }
  const { cliClient, startWithSpinner } = await import("../connect.ts");
  const client = cliClient();
  try {
    const state = await client.daemonState();
    if (state !== "running") await startWithSpinner(client, state);
    const { pid } = await client.status();
    if (state === "running") running(pid);
    else out(`adi daemon started (pid ${pid})`);
  } finally {
    client.close();
  }
}

/** `adi daemon start NAME…`: services the daemon knows (an ad-hoc `NAME -- CMD` is start.ts's own). */
export const startServices = (words: string[]): Promise<void> => startingOp(words, "startService", "starting", "started");

export const restartServices = (words: string[]): Promise<void> => startingOp(words, "restartService", "restarting", "restarted");
