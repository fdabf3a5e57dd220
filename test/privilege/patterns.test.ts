import { describe, expect, test } from "bun:test";
import { isBroad, matchArgs, parsePattern } from "../../src/daemon/privilege/patterns.ts";
import { resolvePatternCommand } from "../../src/daemon/privilege/resolve-command.ts";

describe("pattern validation", () => {
  test.each([
    "sh -c *",
    "bash",
    "/bin/bash -c id",
    "/usr/bin/env id",
    "env id",
    "sudo id",
    "su -c id",
    "doas id",
    "pkexec id",
    "xargs id",
    "find / -exec *",
    "nice id",
    "timeout 5 id",
    "chroot / id",
    "busybox sh",
    "perl -e *",
    "python3 -c *",
    "python3.11",
    "node -e *",
    "bun run *",
    "ruby -e *",
    "awk *",
    // A second review: each of these runs the command it is given (choom -n 0 -- sh -c … ran a shell as root).
    "choom -n 0 -- *",
    "uclampset *",
    "scriptlive *",
    "chpst *",
    "fakeroot *",
    "dbus-run-session *",
    "time *",
    "runcon *",
    "numactl *",
    "gosu *",
    "ldd *",
    "/lib/x86_64-linux-gnu/ld-2.31.so *",
    "/lib/ld-musl-x86_64.so.1 *",
    "/lib/libc.musl-x86_64.so.1 *",
    "/lib64/ld-linux-x86-64.so.2 *",
    "/lib/ld.so *",
  ])("refuses the launcher %p", (text) => {
    expect(() => parsePattern(text)).toThrow(/shell or launcher/);
  });

  test.each(["ldconfig", "lddtree", "iptables -L", "ip link", "timedatectl", "numfmt 1"])("a name that only starts like a launcher or loader is allowed: %p", (text) => {
    expect(() => parsePattern(text)).not.toThrow();
  });

  test.each([
    "id -u;reboot",
    "id $(reboot)",
    "id `reboot`",
    "id -u | tee",
    "id > /etc/passwd",
    "id 'quoted'",
    'id "quoted"',
    "id a&b",
    "id ~root",
    "id *x",
    "ls /tmp/*",
    "id \\n",
    "ls [abc]",
    "ls {a,b}",
  ])("refuses metacharacters in %p", (text) => {
    expect(() => parsePattern(text)).toThrow(/characters outside/);
  });

  test("refuses a wildcard or relative command, control characters, empty patterns", () => {
    expect(() => parsePattern("* -u")).toThrow(/literal/);
    expect(() => parsePattern("./id -u")).toThrow(/bare name or an absolute path/);
    expect(() => parsePattern("bin/id")).toThrow(/bare name or an absolute path/);
    expect(() => parsePattern("id\t-u")).toThrow(/control/);
    expect(() => parsePattern("id -u\n")).toThrow(/control/);
    expect(() => parsePattern("   ")).toThrow(/empty/);
  });

  test("accepts ordinary patterns", () => {
    expect(parsePattern("iptables -t nat -L")).toEqual({ text: "iptables -t nat -L", command: "iptables", args: ["-t", "nat", "-L"] });
    expect(parsePattern("systemctl restart *").args).toEqual(["restart", "*"]);
    expect(parsePattern("/usr/bin/id -u").command).toBe("/usr/bin/id");
    expect(parsePattern("ip addr add 10.0.0.1/24 dev *").args.length).toBe(5);
  });

  test("resolves with the fixed PATH to a canonical path, catching launchers behind symlinks", () => {
    expect(resolvePatternCommand(parsePattern("id -u"))).toBe("/usr/bin/id");
    expect(() => resolvePatternCommand(parsePattern("adi-no-such-command-x"))).toThrow(/not an executable file/);
    expect(() => resolvePatternCommand(parsePattern("/usr/bin/../bin/id"))).toThrow(/not a canonical path/);
    // /bin/sh -> dash on Debian: the name "sh" is refused first, the resolved dash likewise.
    expect(() => resolvePatternCommand({ text: "/usr/bin/sh", command: "/usr/bin/sh", args: [] })).toThrow();
  });
});

describe("matching on the argv array", () => {
  const exact = parsePattern("iptables -t nat -L");
  const one = parsePattern("systemctl restart *");
  const rest = parsePattern("journalctl -u *");

  test("literal tokens match byte for byte, nothing more or less", () => {
    expect(matchArgs(exact, ["-t", "nat", "-L"])).toBe(true);
    expect(matchArgs(exact, ["-t", "nat", "-L", "-v"])).toBe(false);
    expect(matchArgs(exact, ["-t", "nat"])).toBe(false);
    expect(matchArgs(exact, ["-t nat", "-L"])).toBe(false);
    expect(matchArgs(exact, ["-t nat -L"])).toBe(false);
    expect(matchArgs(exact, ["-T", "NAT", "-L"])).toBe(false);
    expect(matchArgs(exact, ["-t", "nat;", "-L"])).toBe(false);
  });

  test("* is exactly one argument unless it is trailing", () => {
    expect(isBroad(one)).toBe(true);
    expect(matchArgs(parsePattern("ip link set * up"), ["link", "set", "eth0", "up"])).toBe(true);
    expect(matchArgs(parsePattern("ip link set * up"), ["link", "set", "up"])).toBe(false);
    expect(matchArgs(parsePattern("ip link set * up"), ["link", "set", "a", "b", "up"])).toBe(false);
    expect(matchArgs(one, ["restart"])).toBe(false);
    expect(matchArgs(one, ["restart", "nginx"])).toBe(true);
    expect(matchArgs(rest, ["-u", "a", "b", "c"])).toBe(true);
    expect(isBroad(exact)).toBe(false);
  });
});
