import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { chmodSync, closeSync, constants, openSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { resolvePaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { FIXED_ENV } from "../../daemon/privilege/resolve-command.ts";
import { lookupUser, type UserEntry } from "../../daemon/privilege/users.ts";
import { out } from "../output.ts";
import { writeAll } from "../../util/files.ts";

const SUDOERS_DIR = "/etc/sudoers.d";
/** The first line of every rule this command writes: --remove deletes only files that start with it. */
const MARK = "# Written by adi daemon setup-users";
const OWNER_RULE_PREFIX = "adi-owner-";
const NO_LOGIN_SHELLS = /\/(nologin|false)$/;

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

/**
 * An existing account is only taken as ADI_USER or ADI_ROOT_USER when it is
 * one nobody logs in to and not root: the rules below give ADI_ROOT_USER
 * passwordless sudo and let the owner become either user, and an
 * `ADI_ROOT_USER=alice` must not hand that to a person's account.
 */
function refuseUnfitAccount(role: string, entry: UserEntry): void {
  const fix = `set ${role} to another name, or choose an account with no login shell`;
  if (entry.uid === 0) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${role}=${entry.name} is uid 0 (root): ${fix}`);
  if (!NO_LOGIN_SHELLS.test(entry.shell)) {
    throw new AdiError(
      ErrorCode.FAILED_PRECONDITION,
      `${role}=${entry.name} is an existing login account (shell ${entry.shell || "(none, i.e. /bin/sh)"}): adi will not give it ${role === "ADI_ROOT_USER" ? "passwordless sudo" : "plugins to run as"}; ${fix}`,
    );
  }
}

/** The owner rules this command wrote, by owner name. */
function ownerRules(): Map<string, string> {
  const rules = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(SUDOERS_DIR);
  } catch {}
  for (const name of names) {
    if (name.startsWith(OWNER_RULE_PREFIX) && readOrNull(`${SUDOERS_DIR}/${name}`)?.startsWith(MARK)) {
      rules.set(name.slice(OWNER_RULE_PREFIX.length), `${SUDOERS_DIR}/${name}`);
    }
  }
  return rules;
}

/** `--remove`: the sudoers rules this command wrote (one owner's with --owner); the users stay, as a package's system users do. */
function removeRules(rootUser: string, owner: string | undefined, say: (text: string) => void, dry: boolean): void {
  const paths = owner ? [`${SUDOERS_DIR}/${OWNER_RULE_PREFIX}${owner}`] : [`${SUDOERS_DIR}/${rootUser}`, ...ownerRules().values()];
  for (const path of paths) {
    const content = readOrNull(path);
    if (content === null) out(`${path} is not there`);
    else if (!content.startsWith(MARK)) out(`${path} was not written by adi daemon setup-users: left in place`);
    else {
      say(`remove ${path}`);
      if (!dry) rmSync(path);
    }
  }
  if (!owner) out("the users are kept (files they own may remain): remove them with userdel if nothing needs them");
  if (!dry) out("done; restart the daemon: isolation is detected at start");
}

export default defineCommand({
  meta: meta("setup-users", "Create ADI_USER/ADI_ROOT_USER and their sudoers rules, or remove the rules (root only)", [
    "sudo adi daemon setup-users --owner alice",
    "sudo adi daemon setup-users --dry-run",
    "sudo adi daemon setup-users --remove",
  ]),
  args: {
    "dry-run": { type: "boolean", description: "Print what would be done, change nothing" },
    owner: { type: "string", description: "Non-root user who will run the daemon (default: $SUDO_USER); may switch to both users" },
    remove: { type: "boolean", description: "Remove the sudoers rules written here (with --owner: only that owner's); the users stay" },
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
    const remove = args.remove === true;
    // --remove without --owner means every rule: $SUDO_USER is not taken as the owner then.
    const owner = args.owner ?? (!remove && process.env.SUDO_USER && process.env.SUDO_USER !== "root" ? process.env.SUDO_USER : undefined);
    const names = /^[a-z_][a-z0-9_-]*$/;
    for (const name of [paths.user, paths.rootUser, ...(owner ? [owner] : [])]) {
      if (!names.test(name)) throw new AdiError(ErrorCode.INVALID_ARGUMENT, `${JSON.stringify(name)} is not a valid user name`);
    }
    const say = (text: string) => out(dry ? `would ${text}` : text);
    if (remove) return removeRules(paths.rootUser, owner, say, dry);

    if (paths.user === paths.rootUser) {
      throw new AdiError(ErrorCode.INVALID_ARGUMENT, `ADI_USER and ADI_ROOT_USER are both ${paths.user}: they must be two users, or every plugin gets passwordless sudo`);
    }
    if (owner === paths.user || owner === paths.rootUser) {
      throw new AdiError(ErrorCode.INVALID_ARGUMENT, `the owner must be the user who runs the daemon, not ${owner} (ADI_USER or ADI_ROOT_USER)`);
    }
    if (owner && !lookupUser(owner)) throw new AdiError(ErrorCode.NOT_FOUND, `owner ${owner} does not exist`);
    const existing = { ADI_USER: lookupUser(paths.user), ADI_ROOT_USER: lookupUser(paths.rootUser) };
    for (const [role, entry] of Object.entries(existing)) if (entry) refuseUnfitAccount(role, entry);

    for (const [name, entry] of [[paths.user, existing.ADI_USER], [paths.rootUser, existing.ADI_ROOT_USER]] as const) {
      if (entry) {
        out(`user ${name} exists`);
        continue;
      }
      say(`create system user ${name}`);
      if (dry) continue;
      const r = run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]);
      if (r.code !== 0) throw new AdiError(ErrorCode.INTERNAL, `useradd ${name} failed: ${r.output}`);
    }

    const files: [string, string][] = [
      [`${SUDOERS_DIR}/${paths.rootUser}`, `${MARK}: sudo_run executes \`sudo -n -- CMD\` as ${paths.rootUser}.\n${paths.rootUser} ALL=(root) NOPASSWD: ALL\n`],
    ];
    if (owner) {
      files.push([
        `${SUDOERS_DIR}/${OWNER_RULE_PREFIX}${owner}`,
        `${MARK}: a daemon run by ${owner} switches to ${paths.user} (run) and ${paths.rootUser} (sudo_run).\n${owner} ALL=(${paths.user},${paths.rootUser}) NOPASSWD: ALL\n`,
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
    // A rule for an earlier owner is not replaced (two users may each run a daemon), but it is shown.
    for (const [other, path] of ownerRules()) {
      if (other !== owner) out(`note: ${path}, the rule for owner ${other}, is still in place (remove it: sudo adi daemon setup-users --remove --owner ${other})`);
    }
    if (!dry) out("done; restart the daemon so it picks up isolation");
  },
});
