import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { invokedPath } from "../../src/cli/system/apply-unit.ts";
import { launchdAgent, pinnedEnv, systemdUnit, windowsTask } from "../../src/cli/system/units.ts";
import { MAX_STOP_TIMEOUT_MS } from "../../src/daemon/services/spec.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { ADI_BIN } from "../helpers/env.ts";

const d = new TestDaemon();
afterAll(() => d.cleanup());

const PY = "/usr/bin/python3";

function python(code: string, input: string): { code: number; out: string } {
  const r = Bun.spawnSync([PY, "-c", code], { stdin: new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

describe("start-at-login units", () => {
  const spec = { launcher: [ADI_BIN], env: { ADI_HOME: "/tmp/adi home/%x" } };

  test("systemd user unit runs `adi daemon run`, quotes paths, and verifies", () => {
    const unit = systemdUnit(spec, { XDG_CONFIG_HOME: "/cfg" }, "/home/u");
    expect(unit.path).toBe("/cfg/systemd/user/adi.service");
    expect(unit.text).toContain(`ExecStart="${ADI_BIN}" "daemon" "run"`);
    expect(unit.text).toContain('Environment="ADI_HOME=/tmp/adi home/%%x"');
    expect(unit.text).toContain("WantedBy=default.target");
    expect(unit.notes.join(" ")).toContain("loginctl enable-linger");
  });

  test("systemd-analyze verify accepts the generated unit", async () => {
    if (!Bun.which("systemd-analyze")) {
      console.log("skip: systemd-analyze is not installed");
      return;
    }
    const r = await d.cli(["daemon", "enable", "--dry-run"], { env: { XDG_CONFIG_HOME: join(d.home, "cfg") } });
    expect(r.code).toBe(0);
    const text = r.stdout.split("\n").filter((l) => !l.startsWith("#")).join("\n");
    const file = join(d.home, "adi.service");
    await Bun.write(file, text);
    const v = Bun.spawnSync(["systemd-analyze", "verify", file], { stderr: "pipe" });
    expect(v.stderr.toString()).toBe("");
    expect(v.exitCode).toBe(0);
  });

  test("a relative ADI_HOME is pinned in the unit as the directory it names here", async () => {
    const cwd = join(d.home, "..");
    const env = { ...d.env, ADI_HOME: "rel-home", XDG_CONFIG_HOME: join(d.home, "cfg") };
    const proc = Bun.spawn([ADI_BIN, "daemon", "enable", "--dry-run"], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(stdout).toContain(`Environment="ADI_HOME=${join(cwd, "rel-home")}"`);
  });

  test("launchd agent is a valid plist running the daemon at load", () => {
    const unit = launchdAgent(spec, "/Users/u");
    expect(unit.path).toBe("/Users/u/Library/LaunchAgents/dev.adi.daemon.plist");
    if (!existsSync(PY)) return console.log("skip: /usr/bin/python3 missing");
    const r = python(
      "import plistlib,sys,json; p=plistlib.loads(sys.stdin.buffer.read()); print(json.dumps(p))",
      unit.text,
    );
    expect(r.code).toBe(0);
    const plist = JSON.parse(r.out);
    expect(plist.ProgramArguments).toEqual([ADI_BIN, "daemon", "run", "--background"]);
    expect(plist.RunAtLoad).toBe(true);
    expect(plist.EnvironmentVariables).toEqual({ ADI_HOME: "/tmp/adi home/%x" });
  });

  test("windows scheduled task XML is well formed and runs at logon", () => {
    const unit = windowsTask({ launcher: ["C:\\Program Files\\adi\\adi.exe"], env: {} }, { LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" });
    expect(unit.activate[0]).toEqual(["schtasks", "/Create", "/TN", "adi-daemon", "/XML", unit.path, "/F"]);
    if (!existsSync(PY)) return console.log("skip: /usr/bin/python3 missing");
    const r = python(
      "import sys,xml.etree.ElementTree as E; t=E.fromstring(sys.stdin.buffer.read()); ns={'t':'http://schemas.microsoft.com/windows/2004/02/mit/task'}; print(t.find('.//t:Command',ns).text); print(t.find('.//t:Arguments',ns).text); print(t.find('.//t:LogonTrigger',ns) is not None)",
      unit.text,
    );
    expect(r.code).toBe(0);
    expect(r.out.split("\n").slice(0, 3)).toEqual(["C:\\Program Files\\adi\\adi.exe", "daemon run --background", "True"]);
  });

  test("enable writes the unit where systemd looks for it; a failed activation puts back what was there", async () => {
    const cfg = join(d.home, "cfg2");
    const unit = join(cfg, "systemd", "user", "adi.service");
    const r = await d.cli(["daemon", "enable"], { env: { XDG_CONFIG_HOME: cfg } });
    if (r.code === 0) {
      // A reachable user manager: installed, and disable takes it away again.
      expect(readFileSync(unit, "utf8")).toContain("ExecStart=");
      expect((await d.cli(["daemon", "disable"], { env: { XDG_CONFIG_HOME: cfg } })).code).toBe(0);
      expect(existsSync(unit)).toBe(false);
      return;
    }
    // No session bus or no systemctl (CI): nothing is left behind, and the error says what to do.
    expect(r.stderr).toContain("systemctl");
    expect(r.stderr).toContain("nothing was installed: run `adi daemon enable` in your login session");
    expect(existsSync(unit)).toBe(false);
    // An earlier unit is put back as it was.
    mkdirSync(dirname(unit), { recursive: true });
    writeFileSync(unit, "# the user's earlier unit\n");
    expect((await d.cli(["daemon", "enable"], { env: { XDG_CONFIG_HOME: cfg } })).code).toBe(1);
    expect(readFileSync(unit, "utf8")).toBe("# the user's earlier unit\n");
    // disable removes the file even when it cannot reach the manager, and says what to run there.
    const off = await d.cli(["daemon", "disable"], { env: { XDG_CONFIG_HOME: cfg } });
    expect(off.code).toBe(1);
    expect(off.stderr).toContain(`removed ${unit}, but`);
    expect(off.stderr).toContain("systemctl --user disable --now adi.service && systemctl --user daemon-reload");
    expect(existsSync(unit)).toBe(false);
  });

  test("with a user manager: the unit file is gone before the manager reloads, on disable and on a failed enable's undo", async () => {
    // A stand-in systemctl that logs each call and whether the unit file is there; `enable` fails when asked to.
    const bin = join(d.home, "fakebin");
    mkdirSync(bin, { recursive: true });
    const cfg = join(d.home, "cfg4");
    const unit = join(cfg, "systemd", "user", "adi.service");
    const calls = join(d.home, "systemctl.log");
    writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "$* present=$([ -e '${unit}' ] && echo yes || echo no)" >> '${calls}'\ncase "$*" in *enable*) [ -e '${bin}/fail' ] && exit 1;; esac\nexit 0\n`, { mode: 0o755 });
    const env = { XDG_CONFIG_HOME: cfg, PATH: `${bin}:${process.env.PATH}` };
    expect((await d.cli(["daemon", "enable"], { env })).code).toBe(0);
    expect((await d.cli(["daemon", "disable"], { env })).code).toBe(0);
    writeFileSync(join(bin, "fail"), "");
    expect((await d.cli(["daemon", "enable"], { env })).code).toBe(1);
    expect(readFileSync(calls, "utf8").trim().split("\n")).toEqual([
      "--user daemon-reload present=yes",
      "--user enable --now adi.service present=yes",
      "--user disable --now adi.service present=yes",
      "--user daemon-reload present=no",
      "--user daemon-reload present=yes",
      "--user enable --now adi.service present=yes",
      "--user disable --now adi.service present=yes",
      "--user daemon-reload present=no",
    ]);
    expect(existsSync(unit)).toBe(false);
  });

  test("the unit pins a home that XDG_DATA_HOME chose, doubles `$` in ExecStart only, and gives the daemon its longest stop", () => {
    expect(pinnedEnv({ XDG_DATA_HOME: "/data" }, "linux", "/home/u").ADI_HOME).toBe("/data/adi");
    expect(pinnedEnv({ XDG_DATA_HOME: "/data", ADI_HOME: "/h" }, "linux", "/home/u").ADI_HOME).toBe("/h");
    expect(pinnedEnv({}, "linux", "/home/u").ADI_HOME).toBeUndefined();
    expect(pinnedEnv({ XDG_DATA_HOME: "rel/data" }, "linux", "/home/u").ADI_HOME).toBeUndefined();
    const unit = systemdUnit({ launcher: ["/opt/$HOME/adi"], env: { ADI_HOME: "/h/$x" } }, {}, "/home/u");
    expect(unit.text).toContain('ExecStart="/opt/$$HOME/adi" "daemon" "run"');
    expect(unit.text).toContain('Environment="ADI_HOME=/h/$x"');
    expect(unit.text).toContain(`TimeoutStopSec=${MAX_STOP_TIMEOUT_MS / 1000 + 60}`);
    expect(launchdAgent(spec, "/Users/u").text).toContain(`<key>ExitTimeOut</key>\n  <integer>${MAX_STOP_TIMEOUT_MS / 1000 + 60}</integer>`);
  });

  test("the unit runs adi by the link it was called through, so an upgrade that moves the link is followed", () => {
    const dir = join(d.home, "bin");
    mkdirSync(join(dir, "v1"), { recursive: true });
    const real = join(dir, "v1", "adi");
    writeFileSync(real, "");
    symlinkSync(real, join(dir, "adi"));
    const none = () => null;
    expect(invokedPath(join(dir, "adi"), real, "/", none)).toBe(join(dir, "adi"));
    expect(invokedPath("adi", real, "/", (name) => join(dir, name))).toBe(join(dir, "adi"));
    expect(invokedPath("./bin/adi", real, d.home, none)).toBe(join(dir, "adi"));
    // A name that is another file, or none at all: the binary itself.
    writeFileSync(join(dir, "other"), "");
    expect(invokedPath(join(dir, "other"), real, "/", none)).toBe(real);
    expect(invokedPath("adi", real, "/", none)).toBe(real);
  });

  test("enable run through a link to the binary writes the link into ExecStart", async () => {
    if (process.env.ADI_TEST_CLI === "source") return console.log("skip: the compiled binary is what a link points at");
    const link = join(d.home, "adi-link");
    symlinkSync(ADI_BIN, link);
    const proc = Bun.spawn([link, "daemon", "enable", "--dry-run"], { env: { ...d.env, XDG_CONFIG_HOME: join(d.home, "cfg3") }, stdout: "pipe", stderr: "pipe" });
    const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(stdout).toContain(`ExecStart="${link}" "daemon" "run"`);
  });
});

describe("shell completion", () => {
  test("bash script is valid and completes commands and flags", async () => {
    const r = await d.cli(["completion", "bash"]);
    expect(r.code).toBe(0);
    const file = join(d.home, "adi.bash");
    await Bun.write(file, r.stdout);
    const complete = (...words: string[]) => {
      const script = `source "$1"; COMP_WORDS=(${words.map((w) => `"${w}"`).join(" ")}); COMP_CWORD=${words.length - 1}; _adi_complete; echo "\${COMPREPLY[*]}"`;
      const p = Bun.spawnSync(["bash", "-c", script, "bash", file], { stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
      expect(p.stderr.toString()).toBe("");
      return p.stdout.toString().trim().split(/\s+/);
    };
    expect(complete("adi", "da")).toEqual(["daemon"]);
    expect(complete("adi", "daemon", "st").sort()).toEqual(["start", "status", "stop"]);
    expect(complete("adi", "daemon", "logs", "--f")).toEqual(["--follow"]);
    // After `--` come the command and its arguments: adi offers nothing (the `--` test came after `-*` and never ran).
    expect(complete("adi", "daemon", "start", "web", "--", "")).toEqual([""]);
  });

  test("zsh and fish scripts are generated (and syntax-checked when the shell exists)", async () => {
    for (const shell of ["zsh", "fish"]) {
      const r = await d.cli(["completion", shell]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("daemon");
      if (Bun.which(shell)) {
        const file = join(d.home, `adi.${shell}`);
        await Bun.write(file, r.stdout);
        const check = Bun.spawnSync([shell, "-n", file], { stderr: "pipe" });
        expect(check.exitCode).toBe(0);
        if (shell === "fish") {
          const c = Bun.spawnSync(["fish", "-c", `source ${file}; complete -C "adi daemon st"`], { stdout: "pipe" });
          expect(c.stdout.toString().trim().split("\n").sort()).toEqual(["start", "status", "stop"]);
          // Once a subcommand is typed, daemon's other subcommands are not offered again.
          const after = Bun.spawnSync(["fish", "-c", `source ${file}; complete -C "adi daemon stop "`], { stdout: "pipe" });
          const offered = after.stdout.toString().trim().split("\n");
          expect(offered).not.toContain("events");
          expect(offered).not.toContain("status");
        }
      } else {
        console.log(`skip: ${shell} is not installed; syntax not checked`);
      }
    }
  });

  test("an unknown shell is a usage error; `completion services` is silent when the daemon is down", async () => {
    expect((await d.cli(["completion", "tcsh"])).code).toBe(2);
    const names = await d.cli(["completion", "services"]);
    expect(names.code).toBe(0);
    expect(names.stdout.trim()).toBe("");
    expect(existsSync(d.socket)).toBe(false); // did not start a daemon
  });
});
