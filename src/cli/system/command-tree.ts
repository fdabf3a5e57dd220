import type { ArgsDef, CommandDef } from "citty";

/** A flattened view of the CLI for completion scripts: each command path, its subcommands and flags. */
export interface CommandNode {
  path: string[];
  subcommands: string[];
  flags: string[];
  /** Takes a service name as its positional argument. */
  takesService: boolean;
}

type AnyCommand = CommandDef<any>;

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

function flagsOf(args: ArgsDef): string[] {
  const flags: string[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    flags.push(`--${name}`);
    if (def.type === "boolean" && def.default === true) flags.push(`--no-${name}`);
    const aliases = "alias" in def ? def.alias : undefined;
    for (const alias of aliases === undefined ? [] : Array.isArray(aliases) ? aliases : [aliases]) {
      flags.push(alias.length === 1 ? `-${alias}` : `--${alias}`);
    }
  }
  return [...flags, "--help"];
}

const SERVICE_COMMANDS = new Set(["start", "stop", "restart", "remove", "logs"]);

export async function commandTree(root: AnyCommand): Promise<CommandNode[]> {
  const nodes: CommandNode[] = [];
  const walk = async (cmd: AnyCommand, path: string[]) => {
    const subs = (await resolve(cmd.subCommands)) ?? {};
    const args = ((await resolve(cmd.args)) ?? {}) as ArgsDef;
    const visible: string[] = [];
    for (const [name, sub] of Object.entries(subs)) {
      const child = await resolve(sub);
      const meta = await resolve(child.meta);
      if (meta?.hidden) continue;
      visible.push(name);
      await walk(child, [...path, name]);
    }
    nodes.push({
      path,
      subcommands: visible,
      flags: flagsOf(args),
      takesService: path[0] === "daemon" && SERVICE_COMMANDS.has(path[1] ?? ""),
    });
  };
  await walk(root, []);
  return nodes.sort((a, b) => a.path.length - b.path.length || a.path.join(" ").localeCompare(b.path.join(" ")));
}
