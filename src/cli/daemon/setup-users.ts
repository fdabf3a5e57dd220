import { defineCommand } from "citty";
import { meta } from "../meta.ts";
import { chmodSync, closeSync, constants, fsyncSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { resolvePaths } from "../../config.ts";
import { AdiError, ErrorCode } from "../../errors.ts";
import { FIXED_ENV } from "../../daemon/privilege/resolve-command.ts";
import { lookupUser, type UserEntry } from "../../daemon/privilege/users.ts";
import { out } from "../output.ts";
import { readTextOrNull, writeAll } from "../../util/files.ts";

const SUDOERS_DIR = "/etc/sudoers.d";
/** The first line of every rule this command writes: --remove deletes only files that start with it. */
const MARK = "# Written by adi daemon setup-users";
const OWNER_RULE_PREFIX = "adi-owner-";
const NO_LOGIN_SHELLS = /\/(nologin|false|true)$/;

function run(argv: string[]): { code: number; output: string } {
  const r = Bun.spawnSync(argv, { env: FIXED_ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? 1, output: `${r.stdout.toString()}${r.stderr.toString()}`.trim() };
}


/** Validate with `visudo -cf` in a file sudo ignores (a name with a dot), then rename it into place, 0440. */
function installSudoers(path: string, content: string): void {
  const tmp = `${SUDOERS_DIR}/.adi-setup.${process.pid}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o440);
  try {
    // All of it: a rule cut short by a full disk can still pass visudo and allow more (a command without its arguments allows any).
    writeAll(fd, Buffer.from(content));
    fsyncSync(fd); // the rule survives a power loss whole, or not at all
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

/** The comment (GECOS) of the accounts this command makes: how a later run knows them for its own. */
const ACCOUNT_COMMENT = "adi isolation user (adi daemon setup-users)";

/**
 * An existing account is only taken as ADI_USER or ADI_ROOT_USER when this
 * command made it: the rules below give ADI_ROOT_USER passwordless sudo and
 * let the owner become either user, and `ADI_ROOT_USER=www-data` (nologin,
 * like every service account) must not hand root to a web server. Accounts
 * made before the comment existed are known by the rules this command wrote
 * for them (`madeByAnEarlierRun`), and get the comment now.
 */
function checkExistingAccount(role: string, entry: UserEntry, madeByAnEarlierRun: boolean): "ours" | "to mark" {
  const fix = `set ${role} to another name`;
  if (entry.uid === 0) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${role}=${entry.name} is uid 0 (root): ${fix}`);
  if (!NO_LOGIN_SHELLS.test(entry.shell)) {
    throw new AdiError(
      ErrorCode.FAILED_PRECONDITION,
      `${role}=${entry.name} is an account one can log in to (shell ${entry.shell || "/bin/sh"}): adi will not give it ${role === "ADI_ROOT_USER" ? "passwordless sudo" : "plugins to run as"}; ${fix}`,
    );
  }
  if (entry.comment === ACCOUNT_COMMENT) return "ours";
  if (madeByAnEarlierRun) return "to mark";
  throw new AdiError(
    ErrorCode.FAILED_PRECONDITION,
    `${role}=${entry.name} already exists and was not made by adi daemon setup-users: ${fix}, or, if you made it for adi, mark it: usermod -c '${ACCOUNT_COMMENT}' ${entry.name}`,
  );
}

/** What an owner rule grants: the pair of users it lets its owner switch to. */
function ownerRuleLine(owner: string, user: string, rootUser: string): string {
  return `${owner} ALL=(${user},${rootUser}) NOPASSWD: ALL`;
}

/** The owner rules this command wrote for this pair of users, by owner name. */
function ownerRules(user: string, rootUser: string): Map<string, string> {
  const rules = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync(SUDOERS_DIR);
  } catch {}
  for (const name of names) {
    if (!name.startsWith(OWNER_RULE_PREFIX)) continue;
    const owner = name.slice(OWNER_RULE_PREFIX.length);
    const content = readTextOrNull(`${SUDOERS_DIR}/${name}`);
    // Another pair's rule (other ADI_USER/ADI_ROOT_USER) is not this pair's to show or remove.
    if (content?.startsWith(MARK) && content.includes(`\n${ownerRuleLine(owner, user, rootUser)}\n`)) rules.set(owner, `${SUDOERS_DIR}/${name}`);
  }
  return rules;
}

/** `--remove`: the sudoers rules this command wrote (one owner's with --owner); the users stay, as a package's system users do. */
function removeRules(user: string, rootUser: string, owner: string | undefined, say: (text: string) => void, dry: boolean): void {
  const paths = owner ? [`${SUDOERS_DIR}/${OWNER_RULE_PREFIX}${owner}`] : [`${SUDOERS_DIR}/${rootUser}`, ...ownerRules(user, rootUser).values()];
  for (const path of paths) {
    const content = readTextOrNull(path);
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
    if (remove) return removeRules(paths.user, paths.rootUser, owner, say, dry);

    if (paths.user === paths.rootUser) {
      throw new AdiError(ErrorCode.INVALID_ARGUMENT, `ADI_USER and ADI_ROOT_USER are both ${paths.user}: they must be two users, or every plugin gets passwordless sudo`);
    }
    if (owner === paths.user || owner === paths.rootUser) {
      throw new AdiError(ErrorCode.INVALID_ARGUMENT, `the owner must be the user who runs the daemon, not ${owner} (ADI_USER or ADI_ROOT_USER)`);
    }
    if (owner && !lookupUser(owner)) throw new AdiError(ErrorCode.NOT_FOUND, `owner ${owner} does not exist`);
    const existing = { ADI_USER: lookupUser(paths.user), ADI_ROOT_USER: lookupUser(paths.rootUser) };
    const rootRule = `${SUDOERS_DIR}/${paths.rootUser}`;
    const rootRuleText = readTextOrNull(rootRule);
    const pairWasOurs = rootRuleText?.startsWith(MARK) === true;
    // A file of the same name that this command did not write, or an owner rule for another pair, is not replaced.
    if (rootRuleText !== null && !pairWasOurs) throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${rootRule} was not written by adi daemon setup-users: remove it, or set ADI_ROOT_USER to another name`);
    const ownerRule = owner ? `${SUDOERS_DIR}/${OWNER_RULE_PREFIX}${owner}` : null;
    const ownerRuleText = ownerRule ? readTextOrNull(ownerRule) : null;
    if (owner && ownerRuleText !== null && !(ownerRuleText.startsWith(MARK) && ownerRuleText.includes(`\n${ownerRuleLine(owner, paths.user, paths.rootUser)}\n`))) {
      throw new AdiError(ErrorCode.FAILED_PRECONDITION, `${ownerRule} already grants ${owner} something else (another pair of users, or a rule adi did not write): remove it first`);
    }
    // What shows an earlier version made an unmarked account: ADI_ROOT_USER's own rule; for ADI_USER (the root
    // rule does not name it) an owner rule of this pair, or the default name that version gave it.
    const legacy = {
      ADI_ROOT_USER: pairWasOurs,
      ADI_USER: pairWasOurs && (ownerRules(paths.user, paths.rootUser).size > 0 || (paths.user === "adi" && existing.ADI_USER?.home === "/nonexistent")),
    };
    const toMark: string[] = [];
    for (const [role, entry] of Object.entries(existing)) if (entry && checkExistingAccount(role, entry, legacy[role as keyof typeof legacy]) === "to mark") toMark.push(entry.name);
    // Made by an earlier setup-users, before the comment: marked now, so a later run knows them without the rule.
    for (const name of toMark) {
      say(`mark user ${name} as adi's (usermod -c)`);
      if (dry) continue;
      const r = run(["usermod", "-c", ACCOUNT_COMMENT, name]);
      if (r.code !== 0) throw new AdiError(ErrorCode.INTERNAL, `usermod -c … ${name} failed: ${r.output}`);
    }

    for (const [name, entry] of [[paths.user, existing.ADI_USER], [paths.rootUser, existing.ADI_ROOT_USER]] as const) {
      if (entry) {
        out(`user ${name} exists`);
        continue;
      }
      say(`create system user ${name}`);
      if (dry) continue;
      const r = run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", ACCOUNT_COMMENT, name]);
      if (r.code !== 0) throw new AdiError(ErrorCode.INTERNAL, `useradd ${name} failed: ${r.output}`);
    }

    const files: [string, string][] = [
      [`${SUDOERS_DIR}/${paths.rootUser}`, `${MARK}: sudo_run executes \`sudo -n -- CMD\` as ${paths.rootUser}.\n${paths.rootUser} ALL=(root) NOPASSWD: ALL\n`],
    ];
    if (owner) {
      files.push([
        `${SUDOERS_DIR}/${OWNER_RULE_PREFIX}${owner}`,
        `${MARK}: a daemon run by ${owner} switches to ${paths.user} (run) and ${paths.rootUser} (sudo_run).\n${ownerRuleLine(owner, paths.user, paths.rootUser)}\n`,
      ]);
    }
    for (const [path, content] of files) {
      if (readTextOrNull(path) === content) {
        out(`${path} is up to date`);
        continue;
      }
      say(`write ${path} (0440, checked with visudo -cf):\n${content.trimEnd().replace(/^/gm, "  ")}`);
      if (!dry) installSudoers(path, content);
    }
    // A rule for an earlier owner is not replaced (two users may each run a daemon), but it is shown.
    for (const [other, path] of ownerRules(paths.user, paths.rootUser)) {
      if (other !== owner) out(`note: ${path}, the rule for owner ${other}, is still in place (remove it: sudo adi daemon setup-users --remove --owner ${other})`);
    }
    if (!dry) out("done; restart the daemon so it picks up isolation");
  },
});
