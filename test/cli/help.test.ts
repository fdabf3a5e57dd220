import { afterAll, describe, expect, test } from "bun:test";
import { root } from "../../src/cli/root.ts";
import { commandTree } from "../../src/cli/system/command-tree.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { adiArgv } from "./helpers.ts";

const d = new TestDaemon();
afterAll(() => d.cleanup(), 120_000);

describe("help and errors", () => {
  test("without a daemon: stop says there is nothing to stop (exit 3) and starts nothing", async () => {
    const r = await d.cli(["daemon", "stop"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("adi daemon is not running: nothing to stop");
    const svc = await d.cli(["daemon", "stop", "web"]);
    expect(svc.code).toBe(3);
    expect(svc.stderr).toContain("adi daemon is not running");
    expect(d.pid()).toBeNull();
    const status = await d.cli(["daemon", "status"]);
    expect(status.code).toBe(3);
    expect(status.stdout).toContain("adi daemon start");
  }, 120_000);

  test("every command's --help: a one-line description, usage and at least one example, no colour when piped", async () => {
    const nodes = await commandTree(root);
    expect(nodes.length).toBeGreaterThan(15);
    const results = await Promise.all(nodes.map((n) => d.cli([...n.path, "--help"])));
    nodes.forEach((node, i) => {
      const r = results[i]!;
      const name = ["adi", ...node.path].join(" ");
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).not.toContain("\x1b[");
      const [first] = r.stdout.split("\n");
      expect(first, name).toMatch(new RegExp(`^\\S.{10,} \\(${name} v\\d`));
      expect(first, name).not.toContain("Example");
      expect(r.stdout, name).toContain(`USAGE ${name}`);
      const examples = r.stdout.split("\nEXAMPLES\n\n")[1];
      expect(examples, `${name} has examples`).toBeDefined();
      expect(examples!.split("\n").filter((l) => l.startsWith("  adi ") || l.startsWith("  sudo adi ")).length, name).toBeGreaterThan(0);
    });
  }, 120_000);

  test("an unknown option is a usage error naming it and where to look", async () => {
    const r = await d.cli(["daemon", "services", "--jsno"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --jsno for `adi daemon services`: see `adi daemon services --help`");
    const short = await d.cli(["daemon", "logs", "web", "-x"]);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("unknown option -x");
    // Known forms pass the check: aliases, --no-X, --flag=value, a value that looks like a flag's neighbour.
    const ok = await d.cli(["daemon", "logs", "--all", "-n", "1", "--since=1h", "--no-json"]);
    expect(ok.stderr).not.toContain("unknown option");
  }, 120_000);

  test("a word for a command that takes no name, and start's ad-hoc flags without `-- CMD`, are usage errors", async () => {
    for (const argv of [["daemon", "status", "web"], ["daemon", "services", "web", "--json"], ["plugin", "list", "foo"]]) {
      const r = await d.cli(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toContain(`\`adi ${argv[0]} ${argv[1]}\` takes no arguments, got "${argv[2]}"`);
      expect(r.stdout, argv.join(" ")).toBe("");
    }
    for (const [flag, ...words] of [["env", "--env", "PORT=1"], ["cwd", "--cwd", "/nonexistent"], ["no-restart", "--no-restart"], ["stop-signal", "--stop-signal", "BOGUS"]] as const) {
      const r = await d.cli(["daemon", "start", "web", ...words]);
      expect(r.code, flag).toBe(2);
      expect(r.stderr, flag).toContain(`--${flag} only defines an ad-hoc service: adi daemon start NAME [--${flag} …] -- CMD`);
    }
    // With no name either: nothing is started.
    expect((await d.cli(["daemon", "start", "--max-restarts", "3"])).code).toBe(2);
  }, 120_000);

  test("an option before the command's last word is a usage error saying where it goes (citty dropped it unsaid)", async () => {
    for (const [argv, fixed] of [
      [["daemon", "--json", "status"], "adi daemon status --json"],
      [["--json", "daemon", "services"], "adi daemon services --json"],
      [["plugin", "--json", "list"], "adi plugin list --json"],
    ] as const) {
      const r = await d.cli([...argv]);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toContain(`--json must come after the command: \`${fixed}\``);
    }
  }, 120_000);

  test("--max-restarts past plugin.toml's 1000, and a count that is no whole number, are usage errors naming the flag", async () => {
    // 99999999999 used to reach the frame encoder (uint32) and crash with a stack trace, exit 1; "" was taken as 0.
    const cases: [string, string, string][] = [
      ["--max-restarts", "99999999999", "error: --max-restarts is at most 1000, got 99999999999\n"],
      ["--max-restarts", "1001", "error: --max-restarts is at most 1000, got 1001\n"],
      ["--max-restarts", "", 'error: --max-restarts expects a whole number, got ""\n'],
      ["--max-restarts", "1e3", 'error: --max-restarts expects a whole number, got "1e3"\n'],
      ["--stop-timeout", " ", 'error: --stop-timeout expects a whole number, got " "\n'],
      ["--stop-timeout", "99999999999", "error: --stop-timeout is at most 3600 seconds, got 99999999999\n"],
      // Past an hour: the daemon refuses such a config too (test/services/service-config.test.ts).
      ["--stop-timeout", "3601", "error: --stop-timeout is at most 3600 seconds, got 3601\n"],
    ];
    for (const [flag, value, stderr] of cases) {
      const r = await d.cli(["daemon", "start", "web", flag, value, "--", "/bin/true"]);
      expect({ flag, value, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ flag, value, code: 2, stdout: "", stderr });
    }
  }, 120_000);

  test("a missing argument prints usage and exits 2; an unknown command too", async () => {
    const r = await d.cli(["daemon", "restart"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("USAGE adi daemon restart");
    expect(r.stderr).toContain("NAME");
    const unknown = await d.cli(["daemon", "frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.toLowerCase()).toContain("unknown command");
  }, 120_000);

  test("an unknown service names what to do next", async () => {
    const r = await d.cli(["daemon", "restart", "ghost"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no service named ghost");
    expect(r.stderr).toContain("adi daemon start ghost -- CMD");
  }, 120_000);

  const asNobody = process.getuid?.() === 0 && Bun.which("setpriv") ? test : test.skip;
  asNobody("another user's daemon: permission denied, exit 4, and what to do instead", async () => {
    await d.start();
    const proc = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...adiArgv(), "daemon", "status"], {
      env: { ...d.env, HOME: "/tmp" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (stderr.includes("Permission denied") && stderr.includes("exec")) return console.log("skip: nobody cannot run the CLI here");
    expect(stdout).toBe("");
    expect(stderr).toContain("permission denied");
    expect(stderr).toContain("use your own ADI_HOME");
    expect(code).toBe(4);
  }, 120_000);
});

describe("stop --force with no name", () => {
  const forced = new TestDaemon();
  afterAll(() => forced.cleanup(), 120_000);

  test("stops the daemon and KILLs its services at once, skipping their stop timeout", async () => {
    const start = await forced.cli(["daemon", "start", "stubborn", "--stop-timeout", "60", "--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]);
    expect(start.code).toBe(0);
    const began = performance.now();
    const r = await forced.cli(["daemon", "stop", "--force"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("adi daemon stopped");
    // Gracefully it would wait the 60 s stop timeout (it used to: --force was ignored here).
    expect(performance.now() - began).toBeLessThan(30_000);
    expect(forced.pid()).toBeNull();
  }, 120_000);
});
