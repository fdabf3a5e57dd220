// What `adi daemon status`, `services`, `logs`, `start` and a script's
// `start|stop|restart NAME…` ask the daemon, over a blocking socket where the
// platform has one (client/blocking-socket.ts: no event loop, ≈ 3–5 ms less
// per command), else through DaemonClient. Both paths give the same answers
// and the same errors, but for one case: DaemonClient's path pings first, so
// a daemon that hangs up before it reads is "not running" there (and `start`
// or `restart` go on to start one); over the blocking socket the request is
// out by then, so it is an error, and the request is not sent again.
import { blockingRoundTrip } from "../../client/blocking-socket.ts";
import { DEFAULT_TIMEOUT_MS, unexpected } from "../../client/connection.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import type { DaemonStatus, Response, ServiceInfo } from "../../gen/adi/daemon/v1/daemon_wire.ts";
import type { RequestKindInit } from "../../protocol/index.ts";
import { clientSocketPath } from "../../protocol/transport.ts";

/** This user's daemon socket, as DaemonClient finds it. */
export const daemonSocketPath = (): string => clientSocketPath(process.env);

/** The daemon's status and its services (UNAVAILABLE when it is not running). */
export async function statusAndServices(timeoutMs: number): Promise<[DaemonStatus, ServiceInfo[]]> {
  const answers = blockingRoundTrip(daemonSocketPath(), [{ case: "status", value: {} }, { case: "listServices", value: {} }], timeoutMs);
  if (!answers) {
    const { cliClient } = await import("../connect.ts");
    const client = cliClient(timeoutMs);
    try {
      return await Promise.all([client.status(), client.listServices()]);
    } finally {
      client.close();
    }
  }
  const [status, list] = answers;
  if (status!.case !== "status") throw unexpected(status!, "status");
  if (list!.case !== "services") throw unexpected(list!, "services");
  return [status!.value, list!.value.list];
}

/**
 * Read-only requests over the blocking socket; undefined when DaemonClient
 * must ask: another platform, or UNAVAILABLE (nothing listens, it hangs up;
 * a full listen queue is RESOURCE_EXHAUSTED, thrown). Asking twice is
 * harmless, and DaemonClient's path pings, then starts a daemon, as
 * `services`, `logs` and `start` did.
 */
export function readOverBlockingSocket(requests: RequestKindInit[]): Response["kind"][] | undefined {
  try {
    return blockingRoundTrip(daemonSocketPath(), requests, DEFAULT_TIMEOUT_MS);
  } catch (error) {
    if (error instanceof AdiError && error.code === ErrorCode.UNAVAILABLE) return undefined;
    throw error;
  }
}

/** The daemon's services; a daemon that is not running is started first. */
export async function servicesStartingDaemon(): Promise<ServiceInfo[]> {
  const answers = readOverBlockingSocket([{ case: "listServices", value: {} }]);
  if (answers) {
    if (answers[0]!.case !== "services") throw unexpected(answers[0]!, "services");
    return answers[0]!.value.list;
  }
  const { runningClient } = await import("../connect.ts");
  const client = await runningClient();
  try {
    return await client.listServices();
  } finally {
    client.close();
  }
}

/**
 * One request whose answer is `ok` (start, stop, restart): true once the
 * daemon has carried it out, false when it is for DaemonClient (another
 * platform, or a connect that found no daemon: nothing was sent). Errors as
 * DaemonClient's.
 */
export function okOverBlockingSocket(request: RequestKindInit, timeoutMs: number): boolean {
  const answers = blockingRoundTrip(daemonSocketPath(), [request], timeoutMs, { downToClient: true });
  if (!answers) return false;
  if (answers[0]!.case !== "ok") throw unexpected(answers[0]!, "ok");
  return true;
}

/**
 * Several requests whose answer is `ok`, each settling on its own: null for
 * each carried out, its error for each not (an error answer, or, once they
 * are out, a lost connection or the deadline). Undefined when they are for
 * DaemonClient (another platform, or a connect that found no daemon: nothing was sent).
 */
export function outcomesOverBlockingSocket(requests: RequestKindInit[], timeoutMs: number): (AdiError | null)[] | undefined {
  const answers = blockingRoundTrip(daemonSocketPath(), requests, timeoutMs, { downToClient: true, keepErrors: true });
  if (!answers) return undefined;
  const outcomes: (AdiError | null)[] = [];
  for (const kind of answers) outcomes.push(kind.case === "ok" ? null : kind.case === "error" ? new AdiError(kind.value.code, kind.value.message) : unexpected(kind, "ok"));
  return outcomes;
}
