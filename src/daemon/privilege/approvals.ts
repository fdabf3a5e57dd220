import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { AdiError, ErrorCode } from "../../errors.ts";
import { replaceFile } from "../../util/files.ts";

/**
 * $ADI_HOME/approvals.json: what the user allowed at `adi plugin install`.
 * Bound to the manifest's sha256, so an edited manifest loses its approvals.
 * The file must be 0600 (no group/other bits) and owned by the daemon's user;
 * anything else is rejected, because whoever can write it can grant root.
 */
export interface ApprovedPattern {
  /** The pattern as written in plugin.toml. */
  pattern: string;
  /** Absolute canonical path the command resolved to at install (fixed PATH). */
  path: string;
  approved: boolean;
}

export interface PluginApproval {
  sha256: string;
  decidedAt: string;
  patterns: ApprovedPattern[];
}

export interface Approvals {
  version: 1;
  plugins: Record<string, PluginApproval>;
}

export const emptyApprovals = (): Approvals => ({ version: 1, plugins: {} });

export function readApprovals(path: string, ownerUid = process.getuid?.() ?? -1): Approvals {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return emptyApprovals();
    if (code === "ELOOP") throw new AdiError(ErrorCode.PERMISSION_DENIED, `approvals file ${path} is a symlink; refused`);
    throw new AdiError(ErrorCode.PERMISSION_DENIED, `approvals file ${path} cannot be read: ${(err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AdiError(ErrorCode.PERMISSION_DENIED, `approvals file ${path} is not a regular file; refused`);
    if (ownerUid >= 0 && st.uid !== ownerUid) {
      throw new AdiError(ErrorCode.PERMISSION_DENIED, `approvals file ${path} is owned by uid ${st.uid}, not by the daemon's user (uid ${ownerUid}); refused`);
    }
    if ((st.mode & 0o077) !== 0) {
      throw new AdiError(ErrorCode.PERMISSION_DENIED, `approvals file ${path} has mode ${(st.mode & 0o777).toString(8)}, group/others may access it; refused (expected 600)`);
    }
    const data = JSON.parse(readFileSync(fd, "utf8")) as Approvals;
    if (data?.version !== 1 || typeof data.plugins !== "object" || data.plugins === null) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `approvals file ${path} has an unknown format`);
    }
    return data;
  } catch (err) {
    if (err instanceof SyntaxError) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `approvals file ${path} is not valid JSON`);
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Replace the file atomically with a fresh 0600 one (util/files.ts replaceFile): a full disk never truncates the approvals. */
export function writeApprovals(path: string, approvals: Approvals): void {
  // Durable: written once per install or remove, and a power loss must not leave the user's decisions an empty file.
  replaceFile(path, `${path}.${process.pid}.tmp`, Buffer.from(`${JSON.stringify(approvals, null, 2)}\n`), { durable: true });
}

/** Read, change and write back (the CLI's install/remove). */
export function updateApprovals(path: string, change: (a: Approvals) => void): void {
  const approvals = readApprovals(path);
  change(approvals);
  writeApprovals(path, approvals);
}
