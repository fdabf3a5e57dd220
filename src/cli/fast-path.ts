import { Exit } from "./exit.ts";

/**
 * The read-only commands that prompts, scripts and monitors poll, run without
 * loading citty and the command tree (≈ 13 ms of a 40 ms run, bench/README.md).
 * Only these exact forms take it: `--help`, any other flag or a typo falls
 * through to citty, which parses, validates and prints usage as for every
 * other command. The bodies are the same functions the citty commands call.
 */
const FAST: Record<string, () => Promise<(json: boolean) => Promise<void>>> = {
  status: () => import("./daemon/status-view.ts").then((m) => m.showStatus),
  services: () => import("./daemon/services-view.ts").then((m) => m.showServices),
};

/** The exit code when argv is a fast-path command, undefined when citty must handle it. */
export async function runFastPath(argv: string[]): Promise<number | undefined> {
  const json = argv[2] === "--json";
  if (argv[0] !== "daemon" || argv.length !== (json ? 3 : 2)) return undefined;
  const load = FAST[argv[1]!];
  if (!load) return undefined;
  try {
    await (await load())(json);
    return Exit.ok;
  } catch (error) {
    const { printError } = await import("./print-error.ts");
    return printError(error);
  }
}
