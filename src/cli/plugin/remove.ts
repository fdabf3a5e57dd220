import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { lstatSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { resolvePaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { updateApprovals } from "../../daemon/privilege/approvals.ts";
import { isValidName } from "../../plugins/manifest.ts";
import { out } from "../output.ts";
import { reloadIfRunning } from "./reload.ts";
import { withPluginLock } from "./files.ts";

export default defineCommand({
  meta: meta("remove", "Remove a plugin and its approvals; its services stop", ["adi plugin remove network-tools"]),
  args: { name: { type: "positional", required: true, description: "Plugin name" } },
  async run({ args }) {
    const name = args.name;
    if (!isValidName(name)) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${JSON.stringify(name)} is not a plugin name`);
    const paths = resolvePaths();
    const dir = join(paths.pluginDir, name);
    // One install or remove at a time (files.ts withPluginLock).
    await withPluginLock(paths, () => {
      try {
        lstatSync(dir);
      } catch {
        throw new AdiError(ErrorCode.NOT_FOUND, `plugin ${name} is not installed`);
      }
      // Approvals go first: from here on nothing of this plugin can run as root.
      updateApprovals(paths.approvalsFile, (a) => {
        delete a.plugins[name];
      });
      // Out of the scan in one step, then deleted.
      const doomed = join(paths.pluginDir, `.${name}.removed-${process.pid}`);
      renameSync(dir, doomed);
      rmSync(doomed, { recursive: true, force: true });
    });
    await reloadIfRunning();
    out(`removed ${name}`);
  },
});
