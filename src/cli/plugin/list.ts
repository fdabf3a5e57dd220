import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { resolvePaths } from "../../config.ts";
import { emptyApprovals, readApprovals, type Approvals } from "../../daemon/privilege/approvals.ts";
import { loadPlugins } from "../../plugins/manifest.ts";
import { err, out, printJson, table } from "../output.ts";

/** approved (all), partial, declined (none approved), stale (manifest changed since), none (asks for nothing). */
function approvalState(approvals: Approvals, name: string, sha: string, wanted: number): string {
  if (wanted === 0) return "none";
  const a = approvals.plugins[name];
  if (!a || a.sha256 !== sha) return a ? "stale" : "declined";
  const n = a.patterns.filter((p) => p.approved).length;
  return n === 0 ? "declined" : n === a.patterns.length ? "approved" : "partial";
}

export default defineCommand({
  meta: meta("list", "List installed plugins, their services and approval state", ["adi plugin list", "adi plugin list --json"]),
  args: { json: { type: "boolean", description: "Print one JSON document" } },
  run({ args }) {
    const paths = resolvePaths();
    const { plugins, errors } = loadPlugins(paths.pluginDir);
    let approvals = emptyApprovals();
    try {
      approvals = readApprovals(paths.approvalsFile);
    } catch (error) {
      err(`warning: ${(error as Error).message}`);
    }
    const rows = plugins.map((p) => {
      const a = approvals.plugins[p.name];
      const current = a?.sha256 === p.sha256;
      return {
        name: p.name,
        version: p.version,
        service: p.service?.name ?? null,
        dir: p.dir,
        approval: approvalState(approvals, p.name, p.sha256, p.privilegedCommands.length),
        privileged_commands: p.privilegedCommands.map((pattern) => {
          const entry = current ? a?.patterns.find((e) => e.pattern === pattern) : undefined;
          return { pattern, path: entry?.path ?? null, approved: entry?.approved ?? false };
        }),
      };
    });
    if (args.json) {
      printJson({ plugins: rows, errors });
      return;
    }
    if (rows.length === 0) out("no plugins installed");
    else {
      out(
        table(
          ["NAME", "VERSION", "SERVICE", "PRIVILEGED", "APPROVAL"],
          rows.map((r) => [r.name, r.version, r.service ?? "-", String(r.privileged_commands.length), r.approval]),
        ),
      );
    }
    for (const e of errors) err(`warning: ${e.message}`);
  },
});
