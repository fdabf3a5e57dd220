import { defineCommand } from "citty";
import { meta } from "./meta.ts";
import { usageError } from "./exit.ts";
import { out } from "./output.ts";

export default defineCommand({
  meta: meta("completion", "Print a shell completion script (bash, zsh or fish)", ["adi completion bash > ~/.local/share/bash-completion/completions/adi", "adi completion zsh > \"${fpath[1]}/_adi\"", "adi completion fish > ~/.config/fish/completions/adi.fish"]),
  args: { shell: { type: "positional", required: true, description: "bash, zsh, fish (or `services`: names for the scripts)" } },
  async run({ args }) {
    if (args.shell === "services") {
      // Used by the scripts on every TAB: never start the daemon, stay silent when it is down.
      const { cliClient } = await import("./connect.ts");
      const client = cliClient(500);
      try {
        out((await client.listServices()).map((s) => s.name).join("\n"));
      } catch {
        // Down or unreachable: no names.
      } finally {
        client.close();
      }
      return;
    }
    const { root } = await import("./root.ts");
    const { commandTree } = await import("./system/command-tree.ts");
    const scripts = await import("./system/completion-scripts.ts");
    const nodes = await commandTree(root);
    const generators: Record<string, (n: typeof nodes) => string> = {
      bash: scripts.bashScript,
      zsh: scripts.zshScript,
      fish: scripts.fishScript,
    };
    const generate = generators[args.shell];
    if (!generate) throw usageError(`unknown shell ${JSON.stringify(args.shell)}: use bash, zsh or fish`);
    out(generate(nodes));
  },
});
