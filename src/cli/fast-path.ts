import { Exit } from "./exit.ts";
import { logLines } from "./whole-number.ts";

/** JSC's tier-up thresholds times this: high enough that nothing of a one-shot command gets compiled. */
export const ONE_SHOT_JIT_POLICY = 100;

/** A command the fast path runs: `adi daemon NAME` or `adi daemon NAME FLAG`, nothing else. */
interface FastCommand {
  flag?: string;
  /** Runs once and exits (status, services), unlike the daemon. */
  oneShot: boolean;
  /** The command's body, called with whether FLAG was given; resolves with the exit code (undefined = ok). */
  load(): Promise<(flagged: boolean) => Promise<number | void>>;
}

/**
 * The commands run without loading citty and the command tree (≈ 10–16 ms,
 * bench/README.md): the read-only ones that prompts, scripts and monitors
 * poll; `daemon run`, which `adi daemon start` spawns, so citty is not part
 * of every cold start; `daemon start` itself, which scripts run to make sure
 * the daemon is up; start/stop/restart of named services (BY_NAMES); the
 * logs in their plain forms (plainLogs). Only these exact forms take
 * it: `--help`, any other flag or a typo falls through to citty, which
 * parses, validates and prints usage as for every other command. The bodies
 * are the same functions the citty commands call.
 */
// No prototype: `adi daemon toString` must not find Object.prototype's (a plain lookup: Object.hasOwn costs ≈ 0.3 ms to load).
const FAST = {
  __proto__: null,
  status: { flag: "--json", oneShot: true, load: () => import("./daemon/status-view.ts").then((m) => m.showStatus) },
  services: { flag: "--json", oneShot: true, load: () => import("./daemon/services-view.ts").then((m) => m.showServices) },
  run: { flag: "--background", oneShot: false, load: () => import("../daemon/main.ts").then((m) => (background: boolean) => m.runDaemon({ background })) },
  start: { oneShot: true, load: () => import("./daemon/service-ops.ts").then((m) => m.startDaemon) },
} as unknown as Record<string, FastCommand | undefined>;

/**
 * `adi daemon start|stop|restart NAME…`, the service operations scripts and
 * users run most, when every argument is a name, and for `stop` one
 * `--force` among them: any other flag (`--help`, `--env`), an ad-hoc
 * `NAME -- CMD`, an empty or dashed word goes to citty. One-shot, like status.
 */
const BY_NAMES = {
  __proto__: null,
  start: { load: () => import("./daemon/service-ops.ts").then((m) => m.startServices) },
  stop: { flag: "--force", load: () => import("./daemon/service-ops.ts").then((m) => m.stopServices) },
  restart: { load: () => import("./daemon/service-ops.ts").then((m) => m.restartServices) },
} as unknown as Record<string, { flag?: string; load(): Promise<(names: string[], flagged: boolean) => Promise<void>> } | undefined>;

const isName = (word: string) => word !== "" && !word.startsWith("-");

/**
 * `adi daemon logs` in its plain forms: names or `--all` (`-a`), with `-n N`
 * (`--lines N`), `--since WHEN`, `-f` (`--follow`) and `--json`, each at
 * most once. Anything else (`-n=5`, a number that is no whole number, a
 * `--since` that parseSince refuses, names and `--all` together, neither)
 * goes to citty, which parses, validates and says what is wrong, as for
 * every other command. `since` is the text after `--since`, checked by the caller.
 */
function plainLogs(words: string[]): { target: string[] | "all"; last: number | null; since: string | null; follow: boolean; json: boolean } | undefined {
  const names: string[] = [];
  const named = new Set<string>();
  let all = false;
  let json = false;
  let follow = false;
  let last: number | null = null;
  let since: string | null = null;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (isName(word)) {
      if (!named.has(word)) names.push(word);
      named.add(word);
    } else if ((word === "--all" || word === "-a") && !all) all = true;
    else if (word === "--json" && !json) json = true;
    else if ((word === "--follow" || word === "-f") && !follow) follow = true;
    else if ((word === "-n" || word === "--lines") && last === null && (last = logLines(words[i + 1])) !== null) i++; // last stays null when it is no number
    else if (word === "--since" && since === null && i + 1 < words.length) since = words[++i]!;
    else return undefined;
  }
  if (all === (names.length > 0)) return undefined; // both, or neither: a usage error
  return { target: all ? "all" : names, last, since, follow, json };
}

/** `adi daemon logs …` when plainLogs takes it; undefined for citty. Following is long-lived: it keeps the JIT. */
async function runLogs(words: string[]): Promise<number | undefined> {
  const plain = plainLogs(words);
  if (plain === undefined) return undefined;
  let since: number | null = null;
  if (plain.since !== null) {
    since = (await import("./daemon/log-format.ts")).parseSince(plain.since);
    if (since === null) return undefined;
  }
  const query = { target: plain.target, last: plain.last, since, json: plain.json };
  if (plain.follow) return run(false, async () => (await import("./daemon/logs-follow.ts")).followLogs(query));
  return run(true, async () => (await import("./daemon/logs-view.ts")).showLogs(query));
}

/** The exit code when argv is a fast-path command, undefined when citty must handle it. */
export async function runFastPath(argv: string[]): Promise<number | undefined> {
  const name = argv[1];
  if (argv[0] !== "daemon" || name === undefined) return undefined;
  const command = FAST[name];
  const flagged = command !== undefined && argv.length === 3 && argv[2] === command.flag;
  if (command !== undefined && (argv.length === 2 || flagged)) return run(command.oneShot, async () => (await command.load())(flagged));
  if (name === "logs") return runLogs(argv.slice(2));
  const byNames = BY_NAMES[name];
  if (byNames === undefined) return undefined;
  const names = argv.slice(2);
  const at = byNames.flag === undefined ? -1 : names.indexOf(byNames.flag);
  if (at >= 0) names.splice(at, 1);
  if (names.length === 0) return undefined;
  for (const word of names) if (!isName(word)) return undefined;
  return run(true, async () => (await byNames.load())(names, at >= 0));
}

async function run(oneShot: boolean, body: () => Promise<number | void>): Promise<number> {
  // A one-shot command ends before the JIT pays off: at the normal tier-up thresholds JSC spends
  // 2–4 ms of a ≈ 30 ms run compiling code that then runs once (bench/README.md). The daemon
  // (`run`) and `logs -f` are long-lived and keep the normal thresholds.
  if (oneShot) Bun.unsafe.setJITPolicy(ONE_SHOT_JIT_POLICY);
  try {
    return (await body()) ?? Exit.ok;
  } catch (error) {
    const { printError } = await import("./print-error.ts");
    return printError(error);
  }
}
