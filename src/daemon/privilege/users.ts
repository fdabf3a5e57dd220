import { readFileSync } from "node:fs";
import { FIXED_ENV } from "./resolve-command.ts";

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** The GECOS field: `adi daemon setup-users` marks the accounts it makes there. */
  comment: string;
}

function parsePasswdLine(line: string, name: string): UserEntry | null {
  const f = line.split(":");
  if (f.length < 7 || f[0] !== name) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) return null;
  return { name, uid, gid, home: f[5]!, shell: f[6]!, comment: f[4]! };
}

/**
 * A local or NSS user by name; null when unknown. /etc/passwd first: it is
 * where `adi daemon setup-users` (useradd) puts the users, NSS consults it
 * first on every usual setup, and reading it costs ≈ 0.1 ms where a `getent`
 * spawn costs ≈ 4 ms of the daemon's cold start. getent then answers for
 * users that only a directory service (LDAP, sssd) knows.
 */
export function lookupUser(name: string): UserEntry | null {
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(name)) return null;
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const entry = parsePasswdLine(line, name);
      if (entry) return entry;
    }
  } catch {}
  try {
    const r = Bun.spawnSync(["getent", "passwd", name], { env: FIXED_ENV, stdin: "ignore", stderr: "ignore" });
    if (r.exitCode === 0) return parsePasswdLine(r.stdout.toString().trim(), name);
  } catch {
    // No getent on this system: the file was the only source.
  }
  return null;
}
