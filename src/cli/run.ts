import { renderUsage, runCommand, type CommandDef } from "citty";
import { VERSION } from "../version.ts";
import { Exit } from "./exit.ts";
import { printError } from "./print-error.ts";
import { examplesOf } from "./meta.ts";
import { colorEnabled, err, out, paint, stripColor } from "./output.ts";
import { setPassthrough } from "./passthrough.ts";
import { root } from "./root.ts";

type AnyCommand = CommandDef<any>;

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** The command a list of words names, and the words that lead to it ("adi daemon"). */
async function resolveCommand(args: string[]): Promise<[AnyCommand, string[]]> {
  let current: AnyCommand = root;
  const path: string[] = [];
  for (const word of args) {
    if (word.startsWith("-")) continue;
    const subs = await resolve(current.subCommands);
    const next = subs?.[word];
    if (!next) break;
    path.push(word);
    current = await resolve(next);
  }
  return [current, path];
}

/**
 * citty's usage text (its parent gives the full command path, "adi daemon
 * stop"), then the examples; citty colours it, kept only where colour is allowed.
 */
async function usage(args: string[], fd: number): Promise<string> {
  const [command, path] = await resolveCommand(args);
  const parent = path.length === 0 ? undefined : { meta: { name: ["adi", ...path.slice(0, -1)].join(" "), version: VERSION } };
  let text = await renderUsage(command, parent);
  const examples = examplesOf(await resolve(command.meta));
  if (examples.length > 0) {
    text = `${text.trimEnd()}\n\n\x1b[4m\x1b[1mEXAMPLES\x1b[22m\x1b[24m\n\n${examples.map((e) => `  \x1b[36m${e}\x1b[39m`).join("\n")}\n`;
  }
  return colorEnabled(fd) ? text : stripColor(text);
}

/** Run the CLI with these arguments (argv without the executable); resolves with the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const split = argv.indexOf("--");
  const args = split === -1 ? argv : argv.slice(0, split);
  setPassthrough(split === -1 ? [] : argv.slice(split + 1));

  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
    out(VERSION);
    return Exit.ok;
  }
  if (args.length === 0 || args.includes("--help") || args.includes("-h")) {
    out(await usage(args, 1));
    return args.length === 0 ? Exit.usage : Exit.ok;
  }
  try {
    const [command, path] = await resolveCommand(args);
    if (!command.subCommands) {
      const { unexpectedWord, unknownFlag } = await import("./flags.ts");
      // citty reads only what follows the command's words: an option among them would be dropped unsaid.
      const early = args.slice(0, path.length).find((a, i) => a !== path[i]);
      if (early !== undefined) {
        const name = ["adi", ...path].join(" ");
        err(`${paint(2, "red", "error")}: ${early} must come after the command: \`${name} ${early}\``);
        return Exit.usage;
      }
      const words = args.slice(path.length);
      const defs = (await resolve(command.args)) ?? {};
      const bad = unknownFlag(words, defs);
      const extra = bad === null ? unexpectedWord(words, defs) : null;
      if (bad !== null || extra !== null) {
        const name = ["adi", ...path].join(" ");
        const what = bad !== null ? `unknown option ${bad} for \`${name}\`` : `\`${name}\` takes no arguments, got ${JSON.stringify(extra)}`;
        err(`${paint(2, "red", "error")}: ${what}: see \`${name} --help\``);
        return Exit.usage;
      }
    }
    await runCommand(root, { rawArgs: args });
    return Exit.ok;
  } catch (error) {
    if (error instanceof Error && error.name === "CLIError") err(`${await usage(args, 2)}\n`);
    return printError(error);
  }
}
