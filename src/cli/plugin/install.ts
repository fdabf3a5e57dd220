import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { AdiError, ErrorCode } from "../../errors.ts";
import { resolvePaths, type AdiPaths } from "../../config.ts";
import { readApprovals, updateApprovals, type ApprovedPattern } from "../../daemon/privilege/approvals.ts";
import { isBroad, parsePattern } from "../../daemon/privilege/patterns.ts";
import { resolvePatternCommand } from "../../daemon/privilege/resolve-command.ts";
import { parsePluginManifest, type PluginManifest } from "../../plugins/manifest.ts";
import { err, out, paint } from "../output.ts";
import { checkInstallConflicts } from "./conflicts.ts";
import { commitPlugin, discardStaged, ensurePluginDir, stagePlugin, withPluginLock } from "./files.ts";
import { reloadIfRunning } from "./reload.ts";
import { confirm } from "./prompt.ts";

export default defineCommand({
  meta: meta("install", "Install a plugin from a directory and ask about its privileged commands", ["adi plugin install ./network-tools", "adi plugin install ./network-tools --yes"]),
  args: {
    path: { type: "positional", required: true, description: "Directory holding plugin.toml" },
    yes: { type: "boolean", description: "Approve every privileged command without asking" },
  },
  async run({ args }) {
    // A link to the plugin is followed: its directory is what gets copied, not the link.
    const src = realSource(args.path);
    // Validate everything before touching ADI_HOME: a bad pattern installs nothing.
    const source = parsePluginManifest(src);
    const checked = source.privilegedCommands.map((text) => {
      const pattern = parsePattern(text);
      return { pattern, path: resolvePatternCommand(pattern) };
    });

    const paths = resolvePaths();
    checkInstallConflicts(paths.pluginDir, source);
    // A broken approvals file fails here, not after the copy (a plugin installed with nothing decided).
    readApprovals(paths.approvalsFile);

    // Asked before anything changes: stopping at a question (Ctrl-C) leaves the earlier install and its approvals as they were.
    // The dialogue goes to stderr, as the question does (prompt.ts): with stdout redirected the
    // user must still see what they are asked to run as root.
    const decided: ApprovedPattern[] = [];
    if (checked.length > 0) err(`${source.name} asks to run these commands as root:`);
    for (const { pattern, path } of checked) {
      const rest = pattern.args.length > 0 ? ` ${pattern.args.join(" ")}` : "";
      err(`  ${pattern.text}\n    runs: ${path}${rest}`);
      if (isBroad(pattern)) err(`    ${paint(2, "yellow", "warning")}: the trailing * allows any further arguments as root`);
      const approved = confirm("  Allow?", args.yes === true);
      decided.push({ pattern: pattern.text, path, approved });
    }

    ensurePluginDir(paths);
    const { installed, dest } = await withPluginLock(paths, () => {
      // Again under the lock: an install that finished while the questions were asked may clash now.
      checkInstallConflicts(paths.pluginDir, source);
      return stageAndCommit(src, paths, source, decided);
    });
    out(`installed ${installed.name} ${installed.version} in ${dest}`);
    if (decided.length > 0) {
      const n = decided.filter((d) => d.approved).length;
      out(`${n} of ${decided.length} privileged commands approved${n < decided.length ? " (reinstall to change)" : ""}`);
    }
    await reloadIfRunning();
  },
});

/** Copy, check the copy is what was asked about, record the decisions, put the copy in place. */
function stageAndCommit(src: string, paths: AdiPaths, source: PluginManifest, decided: ApprovedPattern[]): { installed: PluginManifest; dest: string } {
  const staged = stagePlugin(src, paths, source.name);
  try {
    // Approval binds to the bytes of the installed copy's manifest: they must be the ones the questions were about.
    const installed = parsePluginManifest(staged.copy);
    if (installed.sha256 !== source.sha256) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${src}/plugin.toml changed while the plugin was being installed: nothing was installed; install it again`);
    }
    // The new decisions first: an install cut short after this leaves the earlier copy under them, never new code under old approvals.
    updateApprovals(paths.approvalsFile, (a) => {
      if (decided.length === 0) delete a.plugins[source.name];
      else a.plugins[source.name] = { sha256: installed.sha256, decidedAt: new Date().toISOString(), patterns: decided };
    });
    return { installed, dest: commitPlugin(staged, paths, source.name) };
  } catch (error) {
    discardStaged(staged);
    throw error;
  }
}

function realSource(path: string): string {
  try {
    return realpathSync(resolve(path));
  } catch (error) {
    throw new AdiError(ErrorCode.NOT_FOUND, `${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (error as Error).message}`);
  }
}
