import type { CommandNode } from "./command-tree.ts";

/**
 * Completion scripts generated from the command tree, so they never drift
 * from the CLI. Service names come from `adi completion services`, which
 * prints nothing (quickly) when the daemon is down and never starts it.
 */

function key(node: CommandNode): string {
  return node.path.join(" ");
}

export function bashScript(nodes: CommandNode[]): string {
  const cases = nodes
    .map((n) => {
      const words = [...n.subcommands, ...n.flags].join(" ");
      const services = n.takesService ? ' names=$(adi completion services 2>/dev/null); words="$words $names";' : "";
      return `    "${key(n)}") words="${words}";${services} ;;`;
    })
    .join("\n");
  return `# adi bash completion. Install: adi completion bash > /etc/bash_completion.d/adi  (or source it from ~/.bashrc)
_adi_complete() {
  local cur path="" w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    # After \`--\` come the command and its arguments (start NAME -- CMD): nothing of adi's to offer.
    [[ "$w" == "--" ]] && return 0
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${nodes.map((n) => `      "${key(n)}") path="${key(n)}" ;;`).filter((l) => !l.includes('"")')).join("\n")}
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _adi_complete adi
`;
}

export function zshScript(nodes: CommandNode[]): string {
  return `#compdef adi
# adi zsh completion. Install: adi completion zsh > "\${fpath[1]}/_adi"
_adi() {
  local -a words_
  local path_="" w i
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -- ]] && return 0
    [[ $w == -* ]] && continue
    case "\${path_:+$path_ }$w" in
${nodes.filter((n) => n.path.length).map((n) => `      "${key(n)}") path_="${key(n)}" ;;`).join("\n")}
    esac
  done
  case "$path_" in
${nodes
  .map((n) => {
    const services = n.takesService ? " \${(f)\"$(adi completion services 2>/dev/null)\"}" : "";
    return `    "${key(n)}") words_=(${[...n.subcommands, ...n.flags].join(" ")}${services}) ;;`;
  })
  .join("\n")}
  esac
  compadd -- $words_
}
compdef _adi adi
`;
}

export function fishScript(nodes: CommandNode[]): string {
  const lines = ["# adi fish completion. Install: adi completion fish > ~/.config/fish/completions/adi.fish", "complete -c adi -f"];
  for (const n of nodes) {
    const cond = n.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${n.path[n.path.length - 1]}`;
    const guard = n.path.length <= 1 ? cond : `__fish_seen_subcommand_from ${n.path[0]}; and ${cond}`;
    // Not once one of them is typed: `adi daemon stop <TAB>` offers services, not daemon's other subcommands.
    if (n.subcommands.length) lines.push(`complete -c adi -n '${guard}; and not __fish_seen_subcommand_from ${n.subcommands.join(" ")}' -a '${n.subcommands.join(" ")}'`);
    for (const flag of n.flags) {
      if (flag.startsWith("--")) lines.push(`complete -c adi -n '${guard}' -l ${flag.slice(2)}`);
      else lines.push(`complete -c adi -n '${guard}' -s ${flag.slice(1)}`);
    }
    if (n.takesService) lines.push(`complete -c adi -n '${guard}' -a '(adi completion services 2>/dev/null)'`);
  }
  return `${lines.join("\n")}\n`;
}
