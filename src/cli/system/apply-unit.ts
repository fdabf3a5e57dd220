import { mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { withAbsolutePaths } from "../../protocol/transport.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { selfLauncher } from "../connect.ts";
import { out } from "../output.ts";
import { pinnedEnv, unitFor, type UnitFile } from "./units.ts";
import { readTextOrNull } from "../../util/files.ts";

/**
 * The path this adi was run by, when it names this same binary through a
 * symlink (/usr/local/bin/adi → /opt/adi/1.2/adi): the unit then runs
 * whatever an upgrade points that link at. process.execPath is the resolved
 * file, which an upgrade leaves behind.
 */
export function invokedPath(argv0: string, execPath: string, cwd: string, which: (name: string) => string | null): string {
  const named = argv0.includes("/") ? resolve(cwd, argv0) : which(argv0);
  if (!named || !isAbsolute(named)) return execPath;
  try {
    return realpathSync(named) === realpathSync(execPath) ? named : execPath;
  } catch {
    return execPath;
  }
}

export function currentUnit(): UnitFile {
  // A relative ADI_HOME (or socket, PID, log path) means this directory, not the unit's working directory.
  const env = withAbsolutePaths(process.env);
  const [program, ...rest] = selfLauncher();
  // Only the compiled binary is reached through a link; `bun src/main.ts` keeps bun's own path.
  const launcher = rest.length === 0 ? [invokedPath(process.argv0, program!, process.cwd(), (name) => Bun.which(name))] : [program!, ...rest];
  return unitFor(process.platform, { launcher, env: pinnedEnv(env) }, env);
}

/** Run each command that is there, ignoring how it ends. */
function tryAll(commands: string[][]): void {
  for (const argv of commands) if (Bun.which(argv[0]!)) Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" });
}

function runAll(commands: string[][]): void {
  for (const argv of commands) {
    if (!Bun.which(argv[0]!)) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${argv[0]} is not available here`);
    }
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `\`${argv.join(" ")}\` failed: ${r.stderr.toString().trim() || `exit ${r.exitCode}`}`);
    }
  }
}

/**
 * Write the unit and activate it; with dryRun, print both instead. A failed
 * activation puts back what was there (the earlier unit, or nothing): a
 * failed `enable` changes nothing.
 */
export function enableUnit(unit: UnitFile, dryRun: boolean): void {
  if (dryRun) {
    out(`# would write ${unit.path}\n${unit.text}`);
    for (const argv of unit.activate) out(`# would run: ${argv.join(" ")}`);
    for (const note of unit.notes) out(`# note: ${note}`);
    return;
  }
  const before = readTextOrNull(unit.path);
  mkdirSync(dirname(unit.path), { recursive: true });
  writeFileSync(unit.path, unit.text, { mode: 0o644 });
  try {
    runAll(unit.activate);
  } catch (err) {
    // Undone as far as it went (`enable --now` may have enabled the unit and then failed to start it);
    // best effort: the manager that just failed may fail these too.
    if (before === null) {
      tryAll(unit.deactivate);
      rmSync(unit.path, { force: true });
    } else {
      writeFileSync(unit.path, before, { mode: 0o644 });
    }
    // After the file is gone or back: a reload before that kept the unit loaded.
    tryAll(unit.reload);
    const message = err instanceof AdiError ? err.message : String(err);
    throw new AdiError(
      ErrorCode.FAILED_PRECONDITION,
      `${message}\nnothing was installed: run \`adi daemon enable\` in your login session (a user service manager is needed), or install the unit yourself from \`adi daemon enable --dry-run\``,
    );
  }
  out(`wrote ${unit.path}`);
  out("adi daemon will start at login");
  for (const note of unit.notes) out(`note: ${note}`);
}

/** Deactivate, then remove the file; a deactivation that fails still removes it (nothing can start from it) and says what to run. */
export function disableUnit(unit: UnitFile, dryRun: boolean): void {
  if (dryRun) {
    for (const argv of unit.deactivate) out(`# would run: ${argv.join(" ")}`);
    out(`# would remove ${unit.path}`);
    for (const argv of unit.reload) out(`# would run: ${argv.join(" ")}`);
    return;
  }
  let failure: unknown = null;
  try {
    // First, so the service manager is not left pointing at a missing file.
    runAll(unit.deactivate);
  } catch (err) {
    failure = err;
  }
  rmSync(unit.path, { force: true });
  // Once the file is gone, so the manager forgets the unit.
  if (!failure) {
    try {
      runAll(unit.reload);
    } catch (err) {
      failure = err;
    }
  }
  if (failure) {
    const commands = [...unit.deactivate, ...unit.reload].map((argv) => argv.join(" ")).join(" && ");
    throw new AdiError(
      ErrorCode.FAILED_PRECONDITION,
      `removed ${unit.path}, but ${failure instanceof AdiError ? failure.message : String(failure)}: run \`${commands}\` in your login session`,
    );
  }
  out(`removed ${unit.path}; adi daemon will no longer start at login`);
}
