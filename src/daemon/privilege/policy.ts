import type { Caller } from "../caller.ts";
import type { Approvals } from "./approvals.ts";
import { capUtf8 } from "./audit.ts";
import { matchArgs, parsePattern } from "./patterns.ts";
import { unsafeCommandReason } from "./resolve-command.ts";

/** How much of an unmatched command a deny reason quotes: the reason goes to the audit and daemon logs. */
const MAX_QUOTED_COMMAND_BYTES = 256;

function quoteCommand(command: string): string {
  const cut = capUtf8(command, MAX_QUOTED_COMMAND_BYTES);
  return cut.truncated ? `${JSON.stringify(cut.text)}…` : JSON.stringify(command);
}

export type SudoDecision =
  | { allowed: true; pattern: string; path: string }
  | { allowed: false; reason: string; pattern?: string };

export interface PolicyInput {
  caller: Caller;
  command: string;
  args: readonly string[];
  /** Why sudo_run is unavailable on this machine, or null when it is. */
  unavailable: string | null;
  /** The approvals file, or the error that made it unusable. */
  approvals: () => Approvals;
  /** sha256 of the installed plugin's manifest now; null when the plugin is not installed. */
  manifestSha: (plugin: string) => string | null;
}

/**
 * Decide one sudo_run. Allowed only for a plugin caller whose current
 * manifest is the one approved, with an approved pattern whose command is the
 * request's command (its bare name or exactly its resolved path) and whose
 * tokens match the argv. Every other case says why it is denied.
 */
export function decideSudo(input: PolicyInput): SudoDecision {
  const { caller, command, args } = input;
  if (input.unavailable) return { allowed: false, reason: input.unavailable };
  if (caller.role === "admin") {
    return { allowed: false, reason: "sudo_run is only for plugins (the owner runs privileged commands with their own sudo)" };
  }
  const plugin = caller.plugin;
  if (!plugin) return { allowed: false, reason: `unknown plugin: service ${caller.service ?? "?"} does not belong to an installed plugin` };
  const sha = input.manifestSha(plugin);
  if (sha === null) return { allowed: false, reason: `unknown plugin: ${plugin} is not installed` };
  let approvals: Approvals;
  try {
    approvals = input.approvals();
  } catch (err) {
    return { allowed: false, reason: (err as Error).message };
  }
  const approval = approvals.plugins[plugin];
  if (!approval || !approval.patterns.some((p) => p.approved)) {
    return { allowed: false, reason: `no approval: plugin ${plugin} has no approved privileged commands` };
  }
  if (approval.sha256 !== sha) {
    return { allowed: false, reason: `no approval: the manifest of ${plugin} changed after it was approved; reinstall it to approve again` };
  }
  let sameCommand = false;
  let unapprovedMatch: string | undefined;
  for (const entry of approval.patterns) {
    let pattern;
    try {
      pattern = parsePattern(entry.pattern);
    } catch {
      continue;
    }
    // A bare name maps to the stored path; a path must be exactly the stored one.
    if (command !== entry.path && (command.includes("/") || command !== pattern.command)) continue;
    if (!matchArgs(pattern, args)) {
      if (entry.approved) sameCommand = true;
      continue;
    }
    if (!entry.approved) {
      unapprovedMatch ??= entry.pattern;
      continue;
    }
    const unsafe = unsafeCommandReason(entry.path);
    if (unsafe) return { allowed: false, reason: `refused: ${unsafe}`, pattern: entry.pattern };
    return { allowed: true, pattern: entry.pattern, path: entry.path };
  }
  if (unapprovedMatch) return { allowed: false, reason: `not approved: pattern "${unapprovedMatch}" was declined at install`, pattern: unapprovedMatch };
  if (sameCommand) return { allowed: false, reason: `no match: no approved pattern for ${command} matches these arguments` };
  return { allowed: false, reason: `no match: plugin ${plugin} has no approved pattern for command ${quoteCommand(command)}` };
}
