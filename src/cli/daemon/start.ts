import { defineCommand } from "citty";
import { resolve } from "node:path";
import { meta } from "../meta.ts";
import type { ServiceConfigInit } from "../../client/daemon-client.ts";
import { runningClient } from "../connect.ts";
import { DEFAULT_MAX_RESTARTS, DEFAULT_STOP_TIMEOUT_MS, MAX_RESTARTS, MAX_STOP_TIMEOUT_MS } from "../../daemon/services/spec.ts";
import { SERVICE_OP_TIMEOUT_MS } from "./format.ts";
import { usageError } from "../exit.ts";
import { isWholeNumber } from "../whole-number.ts";
import { out } from "../output.ts";
import { serviceNames, startDaemon, startServices } from "./service-ops.ts";
import { passthrough } from "../passthrough.ts";
import { withSpinner } from "../spinner.ts";

/** `--env KEY=VALUE` may repeat; citty keeps only one value, so read them from the raw words. */
export function envFlags(rawArgs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < rawArgs.length; i++) {
    const word = rawArgs[i]!;
    let pair: string | undefined;
    if (word === "--env" || word === "-e") pair = rawArgs[++i];
    else if (word.startsWith("--env=")) pair = word.slice("--env=".length);
    // `-eKEY=V` and `-e=KEY=V`, which the option check lets through as -e with its value attached.
    else if (word.startsWith("-e") && !word.startsWith("--")) pair = word.slice(word[2] === "=" ? 3 : 2);
    else continue;
    const eq = pair?.indexOf("=") ?? -1;
    if (!pair || eq <= 0) throw usageError(`--env expects KEY=VALUE, got ${JSON.stringify(pair ?? "")}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** `--FLAG N` up to `max`: past it a usage error naming the flag, before a daemon is started for the request it would refuse. */
function wholeNumberFlag(flag: string, value: string | undefined, max: number, unit = ""): number | undefined {
  if (value === undefined) return undefined;
  if (!isWholeNumber(value)) throw usageError(`--${flag} expects a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n > max) throw usageError(`--${flag} is at most ${max}${unit}, got ${value}`);
  return n;
}

/** The first flag given that only an ad-hoc service (`-- CMD`) takes, or null. */
function adHocFlagGiven(args: Record<string, unknown>): string | null {
  if (args.env !== undefined) return "env";
  if (args.cwd !== undefined) return "cwd";
  if (args.restart === false) return "no-restart";
  for (const flag of ["max-restarts", "stop-timeout", "stop-signal"]) if (args[flag] !== undefined) return flag;
  return null;
}

export default defineCommand({
  meta: meta("start", "Start the daemon in the background, or start a known or ad-hoc service", ["adi daemon start", "adi daemon start web", "adi daemon start web api worker", "adi daemon start web --env PORT=8080 -- python3 -m http.server 8080"]),
  args: {
    name: { type: "positional", required: false, description: "Service(s) to start (omit to start the daemon)" },
    env: { type: "string", alias: "e", description: "KEY=VALUE for an ad-hoc service (repeatable)" },
    cwd: { type: "string", description: "Working directory of an ad-hoc service (default: here)" },
    restart: { type: "boolean", default: true, description: "Restart an ad-hoc service when it fails (--no-restart: never)" },
    "max-restarts": { type: "string", description: `Restarts in a row before FAILED (default ${DEFAULT_MAX_RESTARTS}, at most ${MAX_RESTARTS})` },
    "stop-timeout": { type: "string", description: `Seconds between the stop signal and KILL (0 or none: the default, ${DEFAULT_STOP_TIMEOUT_MS / 1000}; at most ${MAX_STOP_TIMEOUT_MS / 1000})` },
    "stop-signal": { type: "string", description: "Signal that asks the service to stop (default SIGTERM)" },
  },
  async run({ args, rawArgs }) {
    // Any word given names services, as for stop: `start "" web` starts web, `start ""` is a usage error.
    const words = passthrough();
    if (words.length === 0) {
      // These only define an ad-hoc service: without `-- CMD` they would change nothing and say nothing.
      const adHoc = adHocFlagGiven(args);
      if (adHoc !== null) throw usageError(`--${adHoc} only defines an ad-hoc service: adi daemon start NAME [--${adHoc} …] -- CMD [ARGS…]`);
      return (args._ as string[]).length === 0 ? startDaemon() : startServices(args._);
    }
    const names = serviceNames(args._);
    if (names.length === 0) throw usageError("a command after `--` needs a service name: adi daemon start NAME -- CMD");
    if (names.length > 1) throw usageError("an ad-hoc command after `--` defines one service: adi daemon start NAME -- CMD");
    const name = names[0]!;
    const stopTimeout = wholeNumberFlag("stop-timeout", args["stop-timeout"], MAX_STOP_TIMEOUT_MS / 1000, " seconds");
    const config: ServiceConfigInit = {
      command: words[0]!,
      args: words.slice(1),
      env: envFlags(rawArgs),
      // A relative --cwd is this directory's, as every path the CLI takes (README).
      workingDir: resolve(args.cwd ?? "."),
      restartOnFailure: args.restart !== false,
      // Named even when it is the default: a daemon older than the field's `optional` reads it left out as 0 (never restart).
      maxRestarts: wholeNumberFlag("max-restarts", args["max-restarts"], MAX_RESTARTS) ?? DEFAULT_MAX_RESTARTS,
      stopTimeoutMs: stopTimeout === undefined ? 0 : stopTimeout * 1000,
      stopSignal: args["stop-signal"] ?? "",
    };
    const client = await runningClient(SERVICE_OP_TIMEOUT_MS);
    try {
      await withSpinner(`starting ${name}`, () => client.startService(name, config));
      out(`started ${name}`);
    } finally {
      client.close();
    }
  },
});
