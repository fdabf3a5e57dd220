import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { tempHome } from "../helpers/env.ts";
import { ADI_ARGV, pluginSource } from "./fixtures.ts";

let t: ReturnType<typeof tempHome>;
let base: string;
const haveScript = Bun.which("script") !== null;

beforeAll(() => {
  t = tempHome();
  base = dirname(t.home);
});
afterAll(() => t?.cleanup());

function adi(args: string[], stdin?: string) {
  const r = Bun.spawnSync([...ADI_ARGV, ...args], {
    env: t.env,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** `adi ARGS…` on a pseudo-terminal (util-linux script), typing `input`. */
function adiOnTty(args: string[], input: string) {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const r = Bun.spawnSync(["script", "-qec", [...ADI_ARGV, ...args].map(quote).join(" "), "/dev/null"], {
    env: t.env,
    stdin: new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString() };
}

function approvals() {
  return JSON.parse(readFileSync(join(t.home, "approvals.json"), "utf8"));
}

function listJson() {
  const r = adi(["plugin", "list", "--json"]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { plugins: { name: string; approval: string; privileged_commands: { pattern: string; approved: boolean; path: string | null }[] }[] };
}

describe("install refuses unsafe patterns (nothing is installed)", () => {
  test.each([
    ["shell", "sh -c id", /shell or launcher/],
    ["launcher", "env id", /shell or launcher/],
    ["sudo", "sudo id", /shell or launcher/],
    ["interpreter", "python3 -c *", /shell or launcher/],
    ["an alias of an editor (vim.basic)", "editor -es -c *", /shell or launcher/],
    ["a launcher by another name", "linux64 *", /shell or launcher/],
    ["metacharacters", "id -u;reboot", /characters outside/],
    ["command substitution", "id $(reboot)", /characters outside/],
    ["non-canonical path", "/usr/bin/../bin/id", /not a canonical path/],
  ])("%s", (name, pattern, why) => {
    const plugin = `bad-${name.replace(/[^a-z]/g, "")}`;
    const r = adi(["plugin", "install", pluginSource(base, plugin, [pattern]), "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(why);
    expect(existsSync(join(t.home, "plugins", plugin))).toBe(false);
  });
});

describe("the approval prompt", () => {
  test("no TTY: declined even when the input says y; the plugin installs anyway", () => {
    const r = adi(["plugin", "install", pluginSource(base, "notty", ["id -u"])], "y\n");
    expect(r.code).toBe(0);
    // The dialogue is on stderr: stdout (redirected here) keeps only what was done.
    expect(r.stderr).toMatch(/id -u\n\s+runs: \/usr\/bin\/id -u/);
    expect(r.stderr).toMatch(/stdin is not a terminal/);
    expect(r.stdout).not.toMatch(/Allow\?|runs:/);
    expect(r.stdout).toMatch(/installed notty 0\.1\.0/);
    expect(existsSync(join(t.home, "plugins", "notty", "plugin.toml"))).toBe(true);
    expect(approvals().plugins.notty.patterns[0].approved).toBe(false);
    expect(statSync(join(t.home, "approvals.json")).mode & 0o777).toBe(0o600);
  });

  test("--yes approves without asking", () => {
    const r = adi(["plugin", "install", pluginSource(base, "yesflag", ["id -u", "ls -l *"]), "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/runs: \/usr\/bin\/ls -l \*/);
    expect(r.stderr).toMatch(/trailing \* allows any further arguments as root/);
    expect(r.stdout).toMatch(/2 of 2 privileged commands approved/);
    expect(approvals().plugins.yesflag.patterns.map((p: { approved: boolean }) => p.approved)).toEqual([true, true]);
  });

  test.skipIf(!haveScript)("on a terminal: y approves, n and Enter decline, one question per pattern", () => {
    const r = adiOnTty(["plugin", "install", pluginSource(base, "tty", ["id -u", "id -g", "id -n"])], "y\nn\n\n");
    expect(r.code).toBe(0);
    expect(r.stdout.match(/Allow\? \[y\/N\]/g)?.length).toBe(3);
    expect(r.stdout).toMatch(/1 of 3 privileged commands approved/);
    const a = approvals().plugins.tty;
    expect(a.patterns).toEqual([
      { pattern: "id -u", path: "/usr/bin/id", approved: true },
      { pattern: "id -g", path: "/usr/bin/id", approved: false },
      { pattern: "id -n", path: "/usr/bin/id", approved: false },
    ]);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test.skipIf(!haveScript)("on a terminal: answering n declines", () => {
    const r = adiOnTty(["plugin", "install", pluginSource(base, "ttyno", ["id -u"])], "n\n");
    expect(r.code).toBe(0);
    expect(approvals().plugins.ttyno.patterns[0].approved).toBe(false);
  });
});

describe("install refuses a plugin the daemon would not run as asked (nothing is copied)", () => {
  const service = (name: string) => `[service]\nname = "${name}"\ncommand = "serve"\n`;

  test("a service name another plugin declares", () => {
    expect(adi(["plugin", "install", pluginSource(base, "owner1", [], service("shared-svc")), "--yes"]).code).toBe(0);
    // "a-taker" sorts before "owner1": installed, the scan would have given it the service.
    const r = adi(["plugin", "install", pluginSource(base, "a-taker", [], service("shared-svc")), "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/service name shared-svc is already declared by plugin owner1.*adi plugin remove owner1/);
    expect(existsSync(join(t.home, "plugins", "a-taker"))).toBe(false);
    // Reinstalling the owner is no clash with itself.
    expect(adi(["plugin", "install", pluginSource(base, "owner1", [], service("shared-svc")), "--yes"]).code).toBe(0);
  });

  test("a reinstall with a relative ADI_HOME is no clash with itself either", () => {
    const run = (args: string[]) =>
      Bun.spawnSync([...ADI_ARGV, ...args], { env: { ...t.env, ADI_HOME: "relhome" }, cwd: base, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const source = pluginSource(base, "relplug", []);
    expect(run(["plugin", "install", source, "--yes"]).exitCode).toBe(0);
    const again = run(["plugin", "install", source, "--yes"]);
    expect(again.stderr.toString()).toBe("");
    expect(again.exitCode).toBe(0);
    expect(existsSync(join(base, "relhome", "plugins", "relplug", "plugin.toml"))).toBe(true);
  });

  test("a name reserved for another plugin", () => {
    const r = adi(["plugin", "install", pluginSource(base, "squatter", [], service("hive")), "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/service name hive is reserved for the hive plugin/);
    expect(existsSync(join(t.home, "plugins", "squatter"))).toBe(false);
  });

  test("a broken approvals file fails before the copy", () => {
    const file = join(t.home, "approvals.json");
    const saved = readFileSync(file);
    writeFileSync(file, "{ not json", { mode: 0o600 });
    try {
      const r = adi(["plugin", "install", pluginSource(base, "badapprovals", ["id -u"]), "--yes"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/approvals file .* is not valid JSON/);
      expect(existsSync(join(t.home, "plugins", "badapprovals"))).toBe(false);
    } finally {
      writeFileSync(file, saved);
    }
  });
});

describe("list and remove", () => {
  test("list shows approval state; a changed manifest shows as stale", () => {
    adi(["plugin", "install", pluginSource(base, "listed", ["id -u"]), "--yes"]);
    let listed = listJson().plugins.find((p) => p.name === "listed")!;
    expect(listed.approval).toBe("approved");
    expect(listed.privileged_commands).toEqual([{ pattern: "id -u", path: "/usr/bin/id", approved: true }]);
    expect(listJson().plugins.find((p) => p.name === "notty")!.approval).toBe("declined");
    appendFileSync(join(t.home, "plugins", "listed", "plugin.toml"), "# changed\n");
    listed = listJson().plugins.find((p) => p.name === "listed")!;
    expect(listed.approval).toBe("stale");
    expect(listed.privileged_commands[0]!.approved).toBe(false);
    const human = adi(["plugin", "list"]);
    expect(human.stdout).toMatch(/^NAME\s+VERSION\s+SERVICE\s+PRIVILEGED\s+APPROVAL/);
    expect(human.stdout).toMatch(/listed\s+0\.1\.0\s+-\s+1\s+stale/);
  });

  test("remove deletes the plugin and its approvals", () => {
    expect(approvals().plugins.yesflag).toBeDefined();
    const r = adi(["plugin", "remove", "yesflag"]);
    expect(r.code).toBe(0);
    expect(existsSync(join(t.home, "plugins", "yesflag"))).toBe(false);
    expect(approvals().plugins.yesflag).toBeUndefined();
    expect(adi(["plugin", "remove", "yesflag"]).code).toBe(1);
    expect(adi(["plugin", "remove", "../etc"]).code).toBe(2);
  });
});
