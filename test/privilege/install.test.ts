import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { resolvePaths } from "../../src/config.ts";
import { discardStaged, ensurePluginDir, stagePlugin } from "../../src/cli/plugin/files.ts";
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

/** `adi ARGS…` on a pseudo-terminal, and Ctrl-C typed once it asks its first question. */
async function interruptAtQuestion(args: string[]): Promise<{ code: number; asked: boolean }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const proc = Bun.spawn(["script", "-qec", [...ADI_ARGV, ...args].map(quote).join(" "), "/dev/null"], { env: t.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let shown = "";
  let asked = false;
  const reader = proc.stdout.getReader();
  const deadline = Date.now() + 10_000;
  while (!asked && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    shown += new TextDecoder().decode(value);
    asked = shown.includes("Allow? [y/N]");
  }
  if (asked) proc.stdin.write("\x03");
  await proc.stdin.flush();
  proc.stdin.end();
  const code = await proc.exited;
  return { code, asked };
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

describe("the copy", () => {
  test("staged in a 0700 directory, then made safe: no setuid, no group or other write, before anyone else can reach it", () => {
    const src = pluginSource(base, "modes", []);
    writeFileSync(join(src, "bin", "suid"), "#!/bin/sh\n", { mode: 0o4755 });
    chmodSync(join(src, "bin", "suid"), 0o4777);
    mkdirSync(join(src, "open"), { mode: 0o777 });
    chmodSync(join(src, "open"), 0o777);
    const paths = resolvePaths(t.env);
    ensurePluginDir(paths);
    const staged = stagePlugin(src, paths, "modes");
    try {
      // The old copy went straight to plugins/.modes.install-PID under the source's modes: 4777, and a 0777 directory.
      expect(dirname(staged.copy)).toBe(staged.stage);
      expect(statSync(staged.stage).mode & 0o7777).toBe(0o700);
      expect(statSync(join(staged.copy, "bin", "suid")).mode & 0o7777).toBe(0o755);
      expect(statSync(join(staged.copy, "open")).mode & 0o7777).toBe(0o755);
    } finally {
      discardStaged(staged);
    }
    expect(existsSync(staged.stage)).toBe(false);
    expect(adi(["plugin", "install", src]).code).toBe(0);
    expect(statSync(join(t.home, "plugins", "modes", "bin", "suid")).mode & 0o7777).toBe(0o755);
    expect(readdirSync(join(t.home, "plugins")).filter((n) => n.startsWith(".modes."))).toEqual([]);
  });

  test("a symlink that leads out of the plugin, or nowhere, is refused; one that stays inside is kept", () => {
    const inside = pluginSource(base, "linkin", []);
    symlinkSync(`linkin`, join(inside, "bin", "alias"));
    expect(adi(["plugin", "install", inside]).code).toBe(0);
    expect(readlinkSync(join(t.home, "plugins", "linkin", "bin", "alias"))).toBe("linkin");
    for (const [name, target, why] of [
      ["linkout", "/etc/passwd", "outside the plugin"],
      ["linknowhere", join(base, "adi-t-no-such-file"), "which does not exist"],
    ] as const) {
      const src = pluginSource(base, name, []);
      symlinkSync(target, join(src, "bin", "helper"));
      const r = adi(["plugin", "install", src]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${name}/bin/helper is a symlink to ${target}, ${why}`);
      expect(existsSync(join(t.home, "plugins", name))).toBe(false);
    }
  });

  test("a link through the staging copy's name, a loop of links and a FIFO are refused, each said as such", () => {
    const viaStage = pluginSource(base, "viastage", []);
    symlinkSync("../plugin/bin/viastage", join(viaStage, "helper"));
    const r1 = adi(["plugin", "install", viaStage]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain("viastage/helper is a symlink to ../plugin/bin/viastage, which does not exist");
    const loop = pluginSource(base, "looped", []);
    symlinkSync("b", join(loop, "a"));
    symlinkSync("a", join(loop, "b"));
    const r2 = adi(["plugin", "install", loop]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/looped\/[ab] is a symlink to [ab], a loop of links/);
    const fifo = pluginSource(base, "withfifo", []);
    expect(Bun.spawnSync(["mkfifo", join(fifo, "pipe")]).exitCode).toBe(0);
    const r3 = adi(["plugin", "install", fifo]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain(`${join(fifo, "pipe")} is a FIFO, socket or device: a plugin holds only files, directories and links`);
    for (const name of ["viastage", "looped", "withfifo"]) expect(existsSync(join(t.home, "plugins", name))).toBe(false);
    expect(readdirSync(join(t.home, "plugins")).filter((n) => n.includes(".install-"))).toEqual([]);
  });

  test("installs and removes at once keep every decision: one at a time", async () => {
    const run = (args: string[]) => Bun.spawn([...ADI_ARGV, ...args], { env: t.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" }).exited;
    for (let round = 0; round < 6; round++) {
      const names = [`par${round}a`, `par${round}b`, `par${round}c`];
      const codes = await Promise.all(names.map((n) => run(["plugin", "install", pluginSource(base, n, ["id -u"]), "--yes"])));
      expect(codes).toEqual([0, 0, 0]);
      // The old code lost one of three decisions in most rounds: each install wrote its own read of the file.
      for (const n of names) expect(approvals().plugins[n]?.patterns[0].approved).toBe(true);
      expect(await Promise.all(names.slice(0, 2).map((n) => run(["plugin", "remove", n])))).toEqual([0, 0]);
      expect(Object.keys(approvals().plugins).filter((n) => n.startsWith(`par${round}`))).toEqual([`par${round}c`]);
    }
  });

  test("a dangling link as the executable is refused when the manifest is read", () => {
    const src = pluginSource(base, "dangexe", []);
    rmSync(join(src, "bin", "dangexe"));
    symlinkSync(join(base, "adi-t-later"), join(src, "bin", "dangexe"));
    const r = adi(["plugin", "install", src]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('executable "bin/dangexe" is a symlink to a file that does not exist');
  });

  test("installing through a link to the plugin copies the directory, not the link", () => {
    const src = pluginSource(base, "vialink", []);
    const link = join(base, "vialink-link");
    symlinkSync(src, link);
    expect(adi(["plugin", "install", `${link}/`]).code).toBe(0);
    const installed = join(t.home, "plugins", "vialink");
    expect(lstatSync(installed).isDirectory()).toBe(true);
    expect(listJson().plugins.some((p) => p.name === "vialink")).toBe(true);
  });

  test.skipIf(!haveScript)("Ctrl-C at a reinstall's question leaves the earlier copy and its approvals as they were", async () => {
    const src = pluginSource(base, "interrupted", ["id -u"]);
    expect(adi(["plugin", "install", src, "--yes"]).code).toBe(0);
    const before = approvals().plugins.interrupted;
    writeFileSync(join(src, "bin", "interrupted"), "#!/bin/sh\necho new code\n", { mode: 0o755 });
    const r = await interruptAtQuestion(["plugin", "install", src]);
    expect(r.asked).toBe(true);
    expect(r.code).not.toBe(0);
    expect(readFileSync(join(t.home, "plugins", "interrupted", "bin", "interrupted"), "utf8")).toBe("#!/bin/sh\nexit 0\n");
    expect(approvals().plugins.interrupted).toEqual(before);
    expect(readdirSync(join(t.home, "plugins")).filter((n) => n.startsWith(".interrupted."))).toEqual([]);
  });
});
