import type { ArgsDef } from "citty";

/**
 * citty accepts any flag silently; a typo (`--jsno`) would then change
 * nothing and say nothing. Returns the first word that is not an option of
 * this command, or null. `--no-X` is accepted for boolean X; a string
 * option's value (the next word) is skipped.
 */
export function unknownFlag(words: string[], args: ArgsDef): string | null {
  return classify(words, args).unknown;
}

/**
 * The first word that is neither an option nor an option's value, when the
 * command takes no positional argument (else null): `adi daemon status web`
 * would otherwise look like a per-service status and print the daemon's.
 */
export function unexpectedWord(words: string[], args: ArgsDef): string | null {
  for (const def of Object.values(args)) if (def.type === "positional") return null;
  return classify(words, args).positionals[0] ?? null;
}

/** The first unknown option (null when none), and the words that are no option (up to it). */
function classify(words: string[], args: ArgsDef): { unknown: string | null; positionals: string[] } {
  const positionals: string[] = [];
  const long = new Map<string, string>();
  const short = new Map<string, string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const type = def.type ?? "string";
    long.set(name, type);
    const aliases = "alias" in def && def.alias !== undefined ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : [];
    for (const a of aliases) (a.length === 1 ? short : long).set(a, type);
  }
  long.set("help", "boolean");
  short.set("h", "boolean");
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "-" || !word.startsWith("-") || /^-\d/.test(word)) {
      positionals.push(word);
      continue;
    }
    if (word.startsWith("--")) {
      const name = word.slice(2).split("=")[0]!;
      const type = long.get(name) ?? (name.startsWith("no-") && long.get(name.slice(3)) === "boolean" ? "boolean" : undefined);
      if (type === undefined) return { unknown: `--${name}`, positionals };
      if (type === "string" && !word.includes("=")) i++;
      continue;
    }
    const letters = word.slice(1).split("=")[0]!;
    for (let j = 0; j < letters.length; j++) {
      const type = short.get(letters[j]!);
      if (type === undefined) return { unknown: `-${letters[j]}`, positionals };
      // A string option takes the rest of the word, or the next word.
      if (type === "string") {
        if (j === letters.length - 1 && !word.includes("=")) i++;
        break;
      }
    }
  }
  return { unknown: null, positionals };
}
