import { Exit } from "./exit.ts";

/** A command the fast path runs: `adi daemon NAME` or `adi daemon NAME FLAG`, nothing else. */
interface FastCommand {
  flag: string;
  /** The command's body, called with whether FLAG was given; resolves with the exit code (undefined = ok). */
  load(): Promise<(flagged: boolean) => Promise<number | void>>;
}

/**
 * The commands run without loading citty and the command tree (≈ 13–16 ms,
 * bench/README.md): the read-only ones that prompts, scripts and monitors
 * poll, and `daemon run`, which `adi daemon start` spawns, so citty is not
 * part of every cold start. Only these exact forms take it: `--help`, any
 * other flag or a typo falls through to citty, which parses, validates and
 * prints usage as for every other command. The bodies are the same functions
 * the citty commands call.
 */
const FAST: Record<string, FastCommand> = {
  status: { flag: "--json", load: () => import("./daemon/status-view.ts").then((m) => m.showStatus) },
  services: { flag: "--json", load: () => import("./daemon/services-view.ts").then((m) => m.showServices) },
  run: { flag: "--background", load: () => import("../daemon/main.ts").then((m) => (background) => m.runDaemon({ background })) },
};

/** The exit code when argv is a fast-path command, undefined when citty must handle it. */
export async function runFastPath(argv: string[]): Promise<number | undefined> {
  const name = argv[1];
  if (argv[0] !== "daemon" || name === undefined || !Object.hasOwn(FAST, name)) return undefined;
  const command = FAST[name]!;
  const flagged = argv.length === 3 && argv[2] === command.flag;
  if (argv.length !== 2 && !flagged) return undefined;
  try {
    return (await (await command.load())(flagged)) ?? Exit.ok;
  } catch (error) {
    const { printError } = await import("./print-error.ts");
    return printError(error);
  }
}
