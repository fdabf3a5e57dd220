/**
 * `parseArgs` of node:util, in the one form citty calls it (strict: false,
 * allowPositionals: true, options of type "string" or "boolean" with `short`
 * and `default`, no `multiple`, no `tokens`). The build hands it to citty in
 * place of node:util (build.ts): loading node:util and the internals it pulls
 * in cost every command that goes through citty ≈ 4 ms (bench/README.md).
 * test/cli/parse-args.test.ts holds it to node:util's own results.
 */

interface OptionConfig {
  type: "string" | "boolean";
  short?: string;
  default?: string | boolean;
}

interface ParseArgsConfig {
  args?: string[];
  options?: Record<string, OptionConfig>;
  strict?: boolean;
  allowPositionals?: boolean;
}

type Values = Record<string, string | boolean | undefined>;

function typeOf(options: Record<string, OptionConfig>, name: string): string | undefined {
  return Object.hasOwn(options, name) ? options[name]!.type : undefined;
}

function longFor(options: Record<string, OptionConfig>, short: string): string {
  for (const name of Object.keys(options)) if (options[name]!.short === short) return name;
  return short;
}

/** Like node:util: a repeated option keeps its last value; `__proto__` is never stored. */
function store(values: Values, name: string, value: string | undefined): void {
  if (name !== "__proto__") values[name] = value ?? true;
}

export function parseArgs(config: ParseArgsConfig): { values: Values; positionals: string[] } {
  if (config.strict !== false || config.allowPositionals !== true) throw new Error("parse-args.ts supports citty's call only: strict false, positionals allowed");
  const options = config.options ?? {};
  const args = config.args ?? [];
  const values: Values = Object.create(null);
  const positionals: string[] = [];
  // The next word, taken as the value of the option before it (undefined at the end).
  let at = 0;
  const take = (): string | undefined => (at < args.length ? args[at++] : undefined);
  while (at < args.length) {
    const arg = args[at++]!;
    if (arg === "--") {
      for (; at < args.length; at++) positionals.push(args[at]!);
      break;
    }
    const dashed = arg.length >= 2 && arg[0] === "-";
    if (dashed && arg[1] !== "-") {
      const name = longFor(options, arg[1]!);
      if (arg.length === 2) {
        // -f, and its value from the next word when it takes one
        store(values, name, typeOf(options, name) === "string" ? take() : undefined);
      } else if (typeOf(options, name) === "string") {
        store(values, name, arg.slice(2)); // -fVALUE
      } else {
        // -abc is -a -b -c, each letter in place (a "-" in the group is a flag named "-", never an end
        // of options); a string option inside the group takes the rest as its value, at its end the next word
        for (let i = 1; i < arg.length; i++) {
          const long = longFor(options, arg[i]!);
          if (typeOf(options, long) !== "string") store(values, long, undefined);
          else if (i < arg.length - 1) {
            store(values, long, arg.slice(i + 1));
            break;
          } else store(values, long, take());
        }
      }
      continue;
    }
    if (dashed && arg.length > 2) {
      const equals = arg.indexOf("=");
      if (equals <= 2) {
        const name = arg.slice(2);
        store(values, name, typeOf(options, name) === "string" ? take() : undefined);
      } else {
        store(values, arg.slice(2, equals), arg.slice(equals + 1));
      }
      continue;
    }
    positionals.push(arg);
  }
  for (const name of Object.keys(options)) {
    const fallback = options[name]!.default;
    if (fallback !== undefined && values[name] === undefined) values[name] = fallback;
  }
  return { values, positionals };
}
