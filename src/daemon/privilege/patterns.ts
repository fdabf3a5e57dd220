import { basename } from "node:path";
import { AdiError, ErrorCode } from "../../errors.ts";

/**
 * Privileged command patterns (DESIGN §7): whitespace-separated tokens, the
 * first a literal command (bare name or absolute path), the rest literals
 * from a safe character set or `*` (exactly one argument; trailing: one or
 * more). Matching works on the argv array, never on a joined string.
 */
export interface Pattern {
  /** The pattern as written in plugin.toml. */
  text: string;
  /** The command token (bare name or absolute path). */
  command: string;
  /** Argument tokens: literals or "*". */
  args: string[];
}

const MAX_TOKENS = 64;
const MAX_TOKEN_LENGTH = 256;
/** Literal tokens: no shell metacharacters, quotes, globs, whitespace or control characters. */
const SAFE_TOKEN = /^[A-Za-z0-9._\/:=@%+,-]+$/;
const BARE_COMMAND = /^[A-Za-z0-9._+-]+$/;

/**
 * Commands that run other commands (or code) given as arguments: approving
 * one of them would approve everything. Matched on the name in the pattern and
 * on the basename of the resolved binary (so /usr/bin/sh -> dash is caught).
 */
const LAUNCHERS = new Set([
  "sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "pdksh", "csh", "tcsh", "ash", "rbash", "busybox", "toybox",
  "env", "sudo", "sudoedit", "su", "doas", "pkexec", "runuser", "setpriv", "capsh", "chroot", "unshare", "nsenter",
  "xargs", "find", "nice", "ionice", "nohup", "timeout", "setsid", "stdbuf", "taskset", "chrt", "flock", "watch",
  "script", "strace", "ltrace", "gdb", "systemd-run", "at", "batch", "crontab", "expect", "make",
  "perl", "python", "node", "nodejs", "bun", "deno", "ruby", "irb", "php", "lua", "luajit", "tclsh", "wish",
  "awk", "gawk", "mawk", "nawk", "sed", "vi", "vim", "nvim", "less", "more", "man", "emacs", "nano", "ed",
  "ssh", "socat", "nc", "ncat", "tmux", "screen",
  // Aliases and launchers a review found missing: editor/ex/view resolve to vim.basic; these run a command given to them.
  "editor", "ex", "view", "rvim", "rview", "vimdiff", "sensible-editor", "pager", "sensible-pager", "most",
  "setarch", "linux32", "linux64", "prlimit", "run-parts", "sg", "newgrp", "ssh-agent", "perf", "valgrind",
  "firejail", "bwrap", "systemd-nspawn", "machinectl", "dbus-launch", "xdg-open", "openvt", "start-stop-daemon",
  // A second review: util-linux, runit, and other wrappers that exec their arguments.
  "choom", "uclampset", "scriptlive", "scriptreplay", "chpst", "fakeroot", "fakechroot", "dbus-run-session", "time",
  "runcon", "numactl", "cgexec", "unbuffer", "rlwrap", "catchsegv", "gosu", "su-exec", "setpgid", "daemonize",
  "softlimit", "envdir", "envuidgid", "setuidgid", "setlock", "pgrphack", "fghack", "tini", "dumb-init",
  "proxychains4", "proot", "schroot", "eatmydata", "faketime", "torsocks", "proxychains", "tsocks",
  // ldd runs the program it is asked about when that program names another loader (man ldd: never on untrusted files).
  "ldd",
]);
/** Versioned interpreters: python3, python3.11, perl5.36, ruby3.1, php8.2, lua5.4… */
const VERSIONED = /^(python|perl|ruby|php|lua|node|pypy|jruby|tclsh|wish)[0-9.]*$/;

/**
 * By the basename, and by it without a variant suffix: Debian installs vim as
 * vim.basic, vim.tiny, vim.nox (and `editor`, `ex` resolve there); a dynamic
 * loader (ld-linux-x86-64.so.2, ld.so) runs any program it is given.
 */
export function isLauncher(name: string): boolean {
  const base = basename(name);
  const stem = base.split(".")[0]!;
  return LAUNCHERS.has(base) || LAUNCHERS.has(stem) || VERSIONED.test(base) || VERSIONED.test(stem) || DYNAMIC_LOADER.test(base);
}

/** ld.so, ld64.so.2, ld-linux-x86-64.so.2, ld-2.31.so (glibc before 2.34), ld-musl-x86_64.so.1, libc.musl-x86_64.so.1. */
const DYNAMIC_LOADER = /^(ld(64)?\.so|ld-.*\.so|libc\.musl-.*\.so)/;

function invalid(text: string, why: string): AdiError {
  return new AdiError(ErrorCode.INVALID_ARGUMENT, `privileged command ${JSON.stringify(text)}: ${why}`);
}

/** Parse and validate one pattern; throws INVALID_ARGUMENT naming the problem. */
export function parsePattern(text: string): Pattern {
  if (/[\x00-\x1f\x7f]/.test(text)) throw invalid(text, "contains control characters");
  const tokens = text.split(" ").filter((t) => t !== "");
  if (tokens.length === 0) throw invalid(text, "is empty");
  if (tokens.length > MAX_TOKENS) throw invalid(text, `has more than ${MAX_TOKENS} tokens`);
  const [command, ...args] = tokens as [string, ...string[]];
  if (command === "*") throw invalid(text, "the command must be a literal, not *");
  if (command.includes("/")) {
    if (!command.startsWith("/")) throw invalid(text, `command ${command} must be a bare name or an absolute path`);
    if (!SAFE_TOKEN.test(command)) throw invalid(text, `command ${command} contains characters outside [A-Za-z0-9._/:=@%+,-]`);
  } else if (!BARE_COMMAND.test(command)) {
    throw invalid(text, `command ${JSON.stringify(command)} contains characters outside [A-Za-z0-9._+-]`);
  }
  if (isLauncher(command)) throw invalid(text, `${basename(command)} is a shell or launcher (it runs other commands) and is never allowed`);
  for (const token of args) {
    if (token.length > MAX_TOKEN_LENGTH) throw invalid(text, `a token is longer than ${MAX_TOKEN_LENGTH} bytes`);
    if (token !== "*" && !SAFE_TOKEN.test(token)) {
      throw invalid(text, `token ${JSON.stringify(token)} contains characters outside [A-Za-z0-9._/:=@%+,-] (shell metacharacters, quotes, globs are refused; use * alone for one argument)`);
    }
  }
  return { text, command, args };
}

/** A trailing `*` lets the caller append any further arguments: worth a warning at install. */
export function isBroad(pattern: Pattern): boolean {
  return pattern.args.at(-1) === "*";
}

/** Do these request arguments match the pattern's argument tokens? */
export function matchArgs(pattern: Pattern, args: readonly string[]): boolean {
  const tokens = pattern.args;
  const trailing = isBroad(pattern);
  if (trailing ? args.length < tokens.length : args.length !== tokens.length) return false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token !== "*" && token !== args[i]) return false;
  }
  return true;
}
