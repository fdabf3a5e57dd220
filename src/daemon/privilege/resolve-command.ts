import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { AdiError, ErrorCode } from "../../errors.ts";
import { isLauncher, type Pattern } from "./patterns.ts";

/** The only PATH commands ever see, and the only one used to resolve pattern commands. */
export const FIXED_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const FIXED_ENV: Record<string, string> = { PATH: FIXED_PATH, LANG: "C" };

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A bare name looked up on FIXED_PATH (the caller's PATH is never used); null when not found. */
export function lookupOnFixedPath(name: string): string | null {
  for (const dir of FIXED_PATH.split(":")) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/**
 * Resolve a pattern's command to the absolute canonical path it will run as:
 * a bare name through FIXED_PATH (never the caller's PATH), an absolute path
 * only when it is already canonical. The resolved binary is checked against
 * the launcher list too, so a symlink (sh -> dash) cannot smuggle a shell in.
 */
export function resolvePatternCommand(pattern: Pattern): string {
  const command = pattern.command;
  let found: string | undefined;
  if (command.startsWith("/")) {
    if (isExecutableFile(command)) found = command;
  } else {
    found = lookupOnFixedPath(command) ?? undefined;
  }
  if (!found) {
    throw new AdiError(ErrorCode.NOT_FOUND, `privileged command ${JSON.stringify(pattern.text)}: ${command} is not an executable file${command.startsWith("/") ? "" : ` on ${FIXED_PATH}`}`);
  }
  const canonical = realpathSync(found);
  if (command.startsWith("/") && canonical !== command) {
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `privileged command ${JSON.stringify(pattern.text)}: ${command} is not a canonical path (it resolves to ${canonical}); write that instead`);
  }
  if (isLauncher(canonical)) {
    throw new AdiError(ErrorCode.INVALID_ARGUMENT, `privileged command ${JSON.stringify(pattern.text)}: ${command} resolves to ${canonical}, a shell or launcher, and is never allowed`);
  }
  return canonical;
}

/** Why a resolved command must not run as root now (replaced, or writable by someone else), or null. */
export function unsafeCommandReason(path: string): string | null {
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path} is no longer a regular file`;
    if (st.uid !== 0) return `${path} is not owned by root`;
    if ((st.mode & 0o022) !== 0) return `${path} is writable by group or others`;
    if (realpathSync(path) !== path) return `${path} has been replaced by a symlink`;
    return null;
  } catch {
    return `${path} does not exist any more`;
  }
}
