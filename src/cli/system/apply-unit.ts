import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { withAbsolutePaths } from "../../protocol/transport.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { selfLauncher } from "../connect.ts";
import { out } from "../output.ts";
import { pinnedEnv, unitFor, type UnitFile } from "./units.ts";

export function currentUnit(): UnitFile {
  // A relative ADI_HOME (or socket, PID, log path) means this directory, not the unit's working directory.
  const env = withAbsolutePaths(process.env);
  return unitFor(process.platform, { launcher: selfLauncher(), env: pinnedEnv(env) }, env);
}

function runAll(commands: string[][]): void {
  for (const argv of commands) {
    if (!Bun.which(argv[0]!)) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${argv[0]} is not available here; run it yourself: ${argv.join(" ")}`);
    }
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `\`${argv.join(" ")}\` failed: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`);
    }
  }
}

/** Write the unit and activate it; with dryRun, print both instead. */
export function enableUnit(unit: UnitFile, dryRun: boolean): void {
  if (dryRun) {
    out(`# would write ${unit.path}\n${unit.text}`);
    for (const argv of unit.activate) out(`# would run: ${argv.join(" ")}`);
    for (const note of unit.notes) out(`# note: ${note}`);
    return;
  }
  mkdirSync(dirname(unit.path), { recursive: true });
  writeFileSync(unit.path, unit.text, { mode: 0o644 });
  out(`wrote ${unit.path}`);
  runAll(unit.activate);
  out("adi daemon will start at login");
  for (const note of unit.notes) out(`note: ${note}`);
}

export function disableUnit(unit: UnitFile, dryRun: boolean): void {
  if (dryRun) {
    for (const argv of unit.deactivate) out(`# would run: ${argv.join(" ")}`);
    out(`# would remove ${unit.path}`);
    return;
  }
  // Deactivate first so the service manager never points at a missing file.
  runAll(unit.deactivate);
  rmSync(unit.path, { force: true });
  out(`removed ${unit.path}; adi daemon will no longer start at login`);
}
