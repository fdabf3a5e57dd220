import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { chmodSync, closeSync, constants, openSync, readFileSync, renameSync, rmSync } from "node:fs";
import { resolvePaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { FIXED_ENV } from "../../daemon/privilege/resolve-command.ts";
import { lookupUser } from "../../daemon/privilege/users.ts";
import { out } from "../output.ts";
import { writeAll } from "../../util/files.ts";

const SUDOERS_DIR = "/etc/sudoers.d";

function run(argv: string[]): { code: number; output: string } {
  const r = Bun.spawnSync(argv, { env: FIXED_ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? 1, output: `${r.stdout.toString()}${r.stderr.toString()}`.trim() };
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** Validate with `visudo -cf` in a file sudo ignores (a name with a dot), then rename it into place, 0440. */
function installSudoers(path: string, content: string): void {
  const tmp = `${SUDOERS_DIR}/.adi-setup.${process.pid}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o440);
  try {
    // All of it: a rule cut short by a full disk can still pass visudo and allow more (a command without its arguments allows any).
    writeAll(fd, Buffer.from(content));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o440);
  const check = run(["visudo", "-cf", tmp]);
  if (check.code !== 0) {
    rmSync(tmp, { force: true });
    throw new AdiError(ErrorCode.FAILED_PRECONDITION, `visudo rejected the rule for ${path}: ${check.output}`);
  }
  renameSync(tmp, path);
}

export default defineCommand({
  meta: meta("setup-users", "Create ADI_USER/ADI_ROOT_USER and their sudoers rules (root only)", ["sudo adi daemon setup-users --owner alice", "sudo adi daemon setup-users --dry-run"]),
  args: {
    "dry-run": { type: "boolean", description: "Print what would be done, change nothing" },
    owner: { type: "string", description: "Non-root user who will run the daemon (default: $SUDO_USER); may switch to both users" },
  },
  async run({ args }) {
    const dry = args["dry-run"] === true;
    if (process.platform !== "linux") {
      // No uid switching or peer credentials there: isolation stays off (docs/install.md).
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `adi daemon setup-users is for Linux only: user isolation is not available on ${process.platform}`);
    }
    if (!dry && process.getuid?.() !== 0) {
      throw new AdiError(ErrorCode.PERMISSION_DENIED, "adi daemon setup-users must run as root (try: sudo adi daemon setup-users)");
    }
    const paths = resolvePaths();
    const owner = args.owner ?? (process.env.SUDO_USER && process.env.SUDO_USER !== "root" ? process.env.SUDO_USER : undefined);
    const names = /^[a-z_][a-z0-9_-]*$/;
    for (const name of [paths.user, paths.rootUser, ...(owner ? [owner] : [])]) {
      if (!names.test(name)) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${JSON.stringify(name)} is not a valid user name`);
    }
    if (owner && !lookupUser(owner)) throw new AdiError(ErrorCode.NOT_FOUND, `owner ${owner} does not exist`);
    const say = (text: string) => out(dry ? `would ${text}` : text);

    for (const name of [paths.user, paths.rootUser]) {
      if (lookupUser(name)) {
        out(`user ${name} exists`);
        continue;
      }
      say(`create system user ${name}`);
      if (dry) continue;
      const r = run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]);
      if (r.code !== 0) throw new AdiError(ErrorCode.INTERNAL, `useradd ${name} failed: ${r.output}`);
    }

    const files: [string, string][] = [
      [`${SUDOERS_DIR}/${paths.rootUser}`, `# Written by adi daemon setup-users: sudo_run executes \`sudo -n -- CMD\` as ${paths.rootUser}.\n${paths.rootUser} ALL=(root) NOPASSWD: ALL\n`],
    ];
    if (owner) {
      files.push([
        `${SUDOERS_DIR}/adi-owner-${owner}`,
        `# Written by adi daemon setup-users: a daemon run by ${owner} switches to ${paths.user} (run) and ${paths.rootUser} (sudo_run).\n${owner} ALL=(${paths.user},${paths.rootUser}) NOPASSWD: ALL\n`,
      ]);
    }
    for (const [path, content] of files) {
      if (readOrNull(path) === content) {
        out(`${path} is up to date`);
        continue;
      }
      say(`write ${path} (0440, checked with visudo -cf):\n${content.trimEnd().replace(/^/gm, "  ")}`);
      if (!dry) installSudoers(path, content);
    }
    if (!dry) out("done; restart the daemon so it picks up isolation");
  },
});
