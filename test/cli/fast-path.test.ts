// `adi daemon status|services [--json]`, `adi daemon run [--background]` and
// `adi daemon start|stop|restart|logs NAME…` skip citty (src/cli/fast-path.ts).
// Whatever path runs them, a user must see the same thing: output, exit codes,
// and citty's handling of every form the fast path does not take.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { TestDaemon, type CliResult } from "../helpers/daemon.ts";
import { ADI_BIN, BUN, waitFor } from "../helpers/env.ts";
import { ONE_SHOT_JIT_POLICY } from "../../src/cli/fast-path.ts";
import { Running } from "./helpers.ts";

const d = new TestDaemon();
const CITTY_ONLY = join(import.meta.dir, "fixtures", "citty-only.ts");

/** A script run by Bun from source, to the end. */
async function viaBun(script: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const proc = Bun.spawn([BUN, script, ...args], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const viaCitty = (args: string[], env: Record<string, string> = d.env) => viaBun(CITTY_ONLY, args, env);

/** Uptimes tick between two runs; everything else must match. */
const steady = (text: string) => text.replace(/"uptime_secs": \d+/g, '"uptime_secs": N').replace(/uptime +\S+( \S+)?/g, "uptime N").replace(/ \d+(s|m \d+s)  /g, " N  ");

beforeAll(async () => {
  await d.start();
  for (const name of ["alpha", "beta"]) {
    const r = await d.cli(["daemon", "start", name, "--", "sleep", "1000"]);
    expect(r.code).toBe(0);
  }
}, 120_000);
afterAll(() => d.cleanup(), 120_000);

describe("fast path", () => {
  for (const args of [["daemon", "status"], ["daemon", "status", "--json"], ["daemon", "services"], ["daemon", "services", "--json"]]) {
    test(`adi ${args.join(" ")} prints what the citty command prints`, async () => {
      const [fast, citty] = await Promise.all([d.cli(args, { env: { NO_COLOR: "1" } }), viaCitty(args, { ...d.env, NO_COLOR: "1" })]);
      expect(fast.code).toBe(0);
      expect(citty.code).toBe(0);
      expect(fast.stderr).toBe("");
      expect(steady(fast.stdout)).toBe(steady(citty.stdout));
      expect(fast.stdout).toMatch(args[1] === "services" ? /alpha/ : /running/);
    });
  }

  test("status with the daemon down: the same message and exit 3 on both paths", async () => {
    const env = { ...d.env, ADI_HOME: join(d.home, "nobody-home") };
    const [fast, citty] = await Promise.all([d.cli(["daemon", "status", "--json"], { env }), viaCitty(["daemon", "status", "--json"], env)]);
    expect(fast.code).toBe(3);
    expect(citty.code).toBe(3);
    expect(JSON.parse(fast.stdout)).toEqual({ running: false, socket: join(d.home, "nobody-home", "daemon.sock") });
    expect(fast.stdout).toBe(citty.stdout);
  });

  test("a socket path sockaddr_un cannot hold: the same usage error on both paths, naming the limit", async () => {
    const socket = join(d.home, `${"x".repeat(200)}.sock`);
    const fast = await d.cli(["daemon", "status", "--json"], { env: { ADI_DAEMON_SOCKET: socket } });
    const citty = await d.cli(["daemon", "status", "--json", "--"], { env: { ADI_DAEMON_SOCKET: socket } });
    expect(fast.code).toBe(2);
    expect(fast.stderr).toContain(`${socket}: a socket path may be at most 107 bytes`);
    expect(fast.stdout).toBe("");
    expect(citty.code).toBe(2);
  });

  test("forms it does not take still get citty's usage handling", async () => {
    const typo = await d.cli(["daemon", "status", "--jsn"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown option --jsn");
    const help = await d.cli(["daemon", "services", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("EXAMPLES");
    const twice = await d.cli(["daemon", "services", "--json", "--json"]);
    expect(twice.code).toBe(0);
    expect(JSON.parse(twice.stdout).map((s: { name: string }) => s.name).sort()).toEqual(["alpha", "beta"]);
  });

  test("daemon run in the foreground: the daemon answers, logs to stderr and exits 0 on SIGTERM", async () => {
    const home = join(d.home, "foreground");
    const env = { ...d.env, ADI_HOME: home };
    const proc = Bun.spawn([ADI_BIN, "daemon", "run"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    try {
      await waitFor(async () => (await d.cli(["daemon", "status", "--json"], { env })).code === 0, 10_000, "foreground daemon answering");
      const status = JSON.parse((await d.cli(["daemon", "status", "--json"], { env })).stdout);
      expect(status.pid).toBe(proc.pid);
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stderr).text()).toContain("daemon started");
  });

  test("daemon run: --help and unknown flags still go to citty", async () => {
    const help = await d.cli(["daemon", "run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--background");
    const typo = await d.cli(["daemon", "run", "--backgroud"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown option --backgroud");
  });

  test("status and services run with JIT tier-up held back; the daemon and what the fast path does not take keep the normal policy", async () => {
    const fixture = join(import.meta.dir, "fixtures", "jit-policy.ts");
    const env = { ...d.env, ADI_HOME: join(d.home, "nobody-home"), NO_COLOR: "1" };
    const run = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await viaBun(fixture, args, { ...env, ...extra });
      expect(r.code).toBe(0);
      return JSON.parse(r.stderr.trim().split("\n").pop()!);
    };
    expect(await run(["daemon", "status", "--json"])).toEqual({ code: 3, calls: [ONE_SHOT_JIT_POLICY] });
    // The daemon itself, stopped early by a home it cannot create: it got as far as runDaemon, at the normal policy.
    expect(await run(["daemon", "run"], { ADI_HOME: "/dev/null/adi" })).toEqual({ code: 1, calls: [] });
    expect(await run(["daemon", "run", "--backgroud"])).toEqual({ code: null, calls: [] });
    expect(await run(["daemon", "toString"])).toEqual({ code: null, calls: [] });
    expect(ONE_SHOT_JIT_POLICY).toBeGreaterThan(1);
  });

  test("the fast-path forms compile none of JSC's Array built-ins written in JavaScript (src/cli/output.ts)", async () => {
    // Each is compiled on its first call, 0.1–0.5 ms of a command whose floor is ≈ 17 ms. JSC lists
    // every code block it generates (BUN_JSC_dumpGeneratedBytecodes, to stderr), built-ins by name.
    const BUILTINS = ["map", "filter", "forEach", "find", "findIndex", "findLast", "findLastIndex", "every", "some", "reduce", "reduceRight", "flat", "flatMap", "sort", "from", "fromEntries"];
    const check = (args: string[], stderr: string) => {
      const compiled = new Set(stderr.split("\n").flatMap((line) => /^(\S*)#[A-Za-z0-9]{6}:\[/.exec(line)?.[1] ?? []));
      expect({ args, decoderSeen: compiled.has("readLength") }).toEqual({ args, decoderSeen: true }); // the dump is there and readable
      expect({ args, builtins: BUILTINS.filter((name) => compiled.has(name)) }).toEqual({ args, builtins: [] });
    };
    for (const [args, env] of [
      [["daemon", "status"], { FORCE_COLOR: "1" }],
      [["daemon", "status", "--json"], {}],
      [["daemon", "services"], { FORCE_COLOR: "1" }],
      [["daemon", "services", "--json"], {}],
      [["daemon", "logs", "alpha", "beta", "-n", "5", "--since", "1h"], { FORCE_COLOR: "1" }],
      [["daemon", "logs", "--all", "--json"], {}],
      [["daemon", "start", "alpha", "beta"], {}],
      [["daemon", "stop", "nosuch"], {}],
      [["daemon", "stop", "nosuch", "nosuch2", "--force"], {}],
    ] as [string[], Record<string, string>][]) {
      check(args, (await d.cli(args, { env: { ...env, BUN_JSC_dumpGeneratedBytecodes: "true" } })).stderr);
    }
    // `logs -f` runs on: what it compiled until its first line is out counts, then it is stopped (Ctrl-C).
    const args = ["daemon", "logs", "alpha", "-f", "-n", "1"];
    const follow = Bun.spawn([ADI_BIN, ...args], { env: { ...d.env, BUN_JSC_dumpGeneratedBytecodes: "true" }, stdout: "pipe", stderr: "pipe" });
    const stderr = new Response(follow.stderr).text(); // read all along: the dump is larger than a pipe holds
    await follow.stdout.getReader().read();
    follow.kill("SIGINT");
    await follow.exited;
    check(args, await stderr);
  }, 60_000);

  test("a word that is an Object property is not a fast-path command", async () => {
    const r = await d.cli(["daemon", "toString"]);
    expect(r.stderr).not.toContain("TypeError");
  });

  test("start, stop and restart of named services: the same output and exit codes on both paths", async () => {
    const env: Record<string, string> = { ...d.env, NO_COLOR: "1" };
    const both = async (args: string[], e: Record<string, string> = env) => [await d.cli(args, { env: e }), await viaCitty(args, e)] as const;
    const same = ([fast, citty]: readonly [CliResult, CliResult]) => {
      expect({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ code: citty.code, stdout: citty.stdout, stderr: citty.stderr });
      return fast;
    };
    expect(same(await both(["daemon", "restart", "alpha"]))).toMatchObject({ code: 0, stdout: "restarted alpha\n" });
    expect(same(await both(["daemon", "start"]))).toMatchObject({ code: 0, stdout: `adi daemon is already running (pid ${d.pid()})\n` });
    expect(same(await both(["daemon", "start", "alpha"]))).toMatchObject({ code: 0, stdout: "started alpha\n" });
    expect(same(await both(["daemon", "start", "alpha", "beta"]))).toMatchObject({ code: 0, stdout: "started alpha\nstarted beta\n" });
    expect(same(await both(["daemon", "restart", "alpha", "beta", "alpha"]))).toMatchObject({ code: 0, stdout: "restarted alpha\nrestarted beta\n" });

    const [fastStop] = await both(["daemon", "stop", "alpha", "beta"]);
    expect(fastStop).toMatchObject({ code: 0, stdout: "stopped alpha\nstopped beta\n", stderr: "" });
    expect((await d.cli(["daemon", "start", "alpha", "beta"])).code).toBe(0);
    const cittyStop = await viaCitty(["daemon", "stop", "alpha", "beta"], env);
    expect(cittyStop).toEqual(fastStop);
    expect((await d.cli(["daemon", "start", "alpha", "beta"])).code).toBe(0);

    // --force: the same on both paths (the fast path takes one among the names).
    const [fastKill] = await both(["daemon", "stop", "--force", "alpha", "beta"]);
    expect(fastKill).toMatchObject({ code: 0, stdout: "stopped alpha\nstopped beta\n", stderr: "" });
    expect((await d.cli(["daemon", "start", "alpha", "beta"])).code).toBe(0);
    expect(same(await both(["daemon", "stop", "alpha", "--force"]))).toMatchObject({ code: 0, stdout: "stopped alpha\n" });
    expect((await d.cli(["daemon", "start", "alpha"])).code).toBe(0);

    const unknown = same(await both(["daemon", "stop", "nosuch"]));
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("nosuch");
    const down = same(await both(["daemon", "stop", "alpha"], { ...env, ADI_HOME: join(d.home, "nobody-home") }));
    expect(down).toMatchObject({ code: 3, stderr: "adi daemon is not running: no service runs, alpha neither\n" });
    // Through citty only (an empty word is no name): a usage error, not a request for service "",
    // and `stop "$SVC"` with SVC empty does not stop the daemon. Nor does `stop -- x`.
    expect(await d.cli(["daemon", "restart", ""], { env })).toMatchObject({ code: 2, stderr: "error: no service name given\n" });
    expect(await d.cli(["daemon", "stop", ""], { env })).toMatchObject({ code: 2, stderr: "error: no service name given\n" });
    expect(await d.cli(["daemon", "start", ""], { env })).toMatchObject({ code: 2, stderr: "error: no service name given\n" });
    expect(await d.cli(["daemon", "start", "", "alpha"], { env })).toMatchObject({ code: 0, stdout: "started alpha\n" });
    for (const args of [["daemon", "stop", "--", "x"], ["daemon", "stop", "alpha", "--", "x"], ["daemon", "restart", "alpha", "--", "x"]]) {
      const r = await d.cli(args, { env });
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: `error: \`--\` goes with \`adi daemon start NAME -- CMD\`, not with ${args[1]}\n` });
    }
    expect((await d.cli(["daemon", "status", "--json"], { env })).code).toBe(0);
    expect((await d.cli(["daemon", "services", "--json"], { env })).stdout).toContain('"state": "running"');
  });

  test("logs of named services: the same lines on both paths", async () => {
    const env: Record<string, string> = { ...d.env, NO_COLOR: "1" };
    const forms = [
      ["daemon", "logs", "alpha"],
      ["daemon", "logs", "alpha", "beta", "alpha"],
      ["daemon", "logs", "alpha", "-n", "1"],
      ["daemon", "logs", "--lines", "1", "beta", "--json"],
      ["daemon", "logs", "-a", "--json"],
      ["daemon", "logs", "--all", "-n", "0"],
      ["daemon", "logs", "alpha", "--since", "1h"],
      ["daemon", "logs", "--since", "2000-01-01T00:00:00Z", "-a", "-n", "1", "--json"],
      ["daemon", "logs", "beta", "--since", "1h", "-n", "2"],
    ];
    for (const args of forms) {
      const [fast, citty] = await Promise.all([d.cli(args, { env }), viaCitty(args, env)]);
      expect({ args, code: fast.code, stderr: fast.stderr }).toEqual({ args, code: 0, stderr: "" });
      expect(fast).toEqual(citty);
    }
    expect((await d.cli(["daemon", "logs", "alpha"], { env })).stdout).toMatch(/ alpha +adi started pid \d+/);
    expect((await d.cli(["daemon", "logs", "--all", "-n", "0"], { env })).stdout).toBe("");
    const json = JSON.parse((await d.cli(["daemon", "logs", "-a", "--json"], { env })).stdout);
    expect((await d.cli(["daemon", "logs", "--all", "-n", "0", "--json"], { env })).stdout).toBe("[]\n");
    expect(new Set(json.map((o: { service: string }) => o.service))).toEqual(new Set(["alpha", "beta"]));
    const unknown = await Promise.all([d.cli(["daemon", "logs", "nosuch"], { env }), viaCitty(["daemon", "logs", "nosuch"], env)]);
    expect(unknown[0]).toMatchObject({ code: 1, stdout: "" });
    expect(unknown[0]).toEqual(unknown[1]);
  });

  test("-n past the protocol's uint32 is the whole ring on both paths; -n that is no whole number is a usage error on both", async () => {
    // A count above 2^32-1 used to reach the frame encoder and crash with a stack trace (exit 1).
    const env: Record<string, string> = { ...d.env, NO_COLOR: "1" };
    const whole = (await d.cli(["daemon", "logs", "alpha", "beta", "-n", "1000"], { env })).stdout;
    expect(whole).toMatch(/ alpha +adi started pid \d+/);
    for (const n of ["4294967296", "99999999999999999999999", "9".repeat(400)]) {
      for (const args of [["daemon", "logs", "alpha", "beta", "-n", n], ["daemon", "logs", "--lines", n, "alpha", "beta"]]) {
        const [fast, citty] = await Promise.all([d.cli(args, { env }), viaCitty(args, env)]);
        expect({ args, code: fast.code, stderr: fast.stderr, stdout: fast.stdout }).toEqual({ args, code: 0, stderr: "", stdout: whole });
        expect(fast).toEqual(citty);
      }
    }
    // Number() takes "" and " " as 0 lines, and 1e10 past uint32: none of them is a number of lines.
    for (const n of ["", " ", "1e10", "1e2", "0x10", "1.5", "-1", "+5"]) {
      const args = ["daemon", "logs", "alpha", "-n", n];
      const [fast, citty] = await Promise.all([d.cli(args, { env }), viaCitty(args, env)]);
      expect({ args, code: fast.code, stdout: fast.stdout, stderr: fast.stderr }).toEqual({ args, code: 2, stdout: "", stderr: `error: -n expects a whole number of lines, got ${JSON.stringify(n)}\n` });
      expect(fast).toEqual(citty);
    }
  });

  test("-f with -n past uint32 follows (the whole ring first); with -n 1e10 it is a usage error", async () => {
    const follow = new Running(d, ["daemon", "logs", "alpha", "-f", "-n", "4294967296"]);
    try {
      await follow.waitLine((l) => / alpha +adi started pid \d+/.test(l), "alpha's backlog", 0, 20_000);
    } finally {
      follow.stop();
    }
    const bad = new Running(d, ["daemon", "logs", "alpha", "-f", "-n", "1e10"]);
    try {
      expect(await bad.exited(20_000)).toBe(2);
      expect(bad.stderr).toBe('error: -n expects a whole number of lines, got "1e10"\n');
    } finally {
      bad.stop();
    }
  });

  test("start, stop and restart take the fast path only for plain names: flags, empty and dashed words go to citty", async () => {
    const fixture = join(import.meta.dir, "fixtures", "jit-policy.ts");
    const env = { ...d.env, ADI_HOME: join(d.home, "nobody-home"), NO_COLOR: "1" };
    const run = async (args: string[], extra: Record<string, string> = {}) => JSON.parse((await viaBun(fixture, args, { ...env, ...extra })).stderr.trim().split("\n").pop()!);
    const noHome = { ADI_HOME: "/dev/null/adi" };
    const oneShot = { code: 3, calls: [ONE_SHOT_JIT_POLICY] };
    const cases: [string[], Record<string, string>, { code: number | null; calls: number[] }][] = [
      [["daemon", "stop", "web", "api"], {}, oneShot],
      [["daemon", "stop", "web", "--force"], {}, oneShot],
      [["daemon", "start", "web"], noHome, oneShot],
      [["daemon", "logs", "web", "api"], noHome, oneShot],
      [["daemon", "logs", "web", "-n", "5", "--json"], noHome, oneShot],
      [["daemon", "logs", "--lines", "0", "-a"], noHome, oneShot],
      [["daemon", "logs", "web", "-n", "4294967296"], noHome, oneShot],
      [["daemon", "logs", "--all"], noHome, oneShot],
      [["daemon", "logs", "web", "--since", "1h"], noHome, oneShot],
      [["daemon", "logs", "--since", "2026-01-31T12:00:00Z", "-a"], noHome, oneShot],
      // Following is long-lived: the fast path takes it with the normal JIT policy.
      [["daemon", "logs", "web", "-f"], noHome, { code: 3, calls: [] }],
      [["daemon", "logs", "--follow", "-a", "--since", "10m", "-n", "5"], noHome, { code: 3, calls: [] }],
      [["daemon", "logs", "web", "api", "-f", "--json"], noHome, { code: 3, calls: [] }],
      [["daemon", "start"], noHome, oneShot],
    ];
    for (const args of [
      ["daemon", "stop", "web", "--force", "--force"],
      ["daemon", "stop", "--force"],
      ["daemon", "stop", "web", "--force=true"],
      ["daemon", "restart", "web", "--force"],
      ["daemon", "start", "web", "--force"],
      ["daemon", "stop", ""],
      ["daemon", "restart", "-h"],
      ["daemon", "restart", "web", "--", "x"],
      ["daemon", "stop"],
      ["daemon", "start", "--", "sleep", "1"],
      ["daemon", "start", "web", "--", "sleep", "1"],
      ["daemon", "start", "web", "--env", "A=1"],
      ["daemon", "logs"],
      ["daemon", "logs", "web", "-f", "-f"],
      ["daemon", "logs", "web", "-fa"],
      ["daemon", "logs", "web", "--follow=true"],
      ["daemon", "logs", "web", "--since"],
      ["daemon", "logs", "web", "--since", "bogus"],
      ["daemon", "logs", "web", "--since", "-f"],
      ["daemon", "logs", "web", "--since=1h"],
      ["daemon", "logs", "web", "--since", "1h", "--since", "2h"],
      ["daemon", "logs", "-n", "5"],
      ["daemon", "logs", "web", "--all"],
      ["daemon", "logs", "web", "-n", "-1"],
      ["daemon", "logs", "web", "-n", "1.5"],
      ["daemon", "logs", "web", "-n", ""],
      ["daemon", "logs", "web", "-n", "1e10"],
      ["daemon", "logs", "web", "-n"],
      ["daemon", "logs", "web", "-n=5"],
      ["daemon", "logs", "web", "-n", "5", "-n", "6"],
      ["daemon", "logs", "web", "--json", "--json"],
      ["daemon", "logs", "web", ""],
    ]) {
      cases.push([args, {}, { code: null, calls: [] }]);
    }
    // All at once: a start with no home to start in waits out the client's 5 s start deadline
    // (the fixture, run as the daemon, exits 0), which one after another took 57 s of a 60 s timeout.
    const seen = await Promise.all(cases.map(async ([args, extra]) => ({ args, ...(await run(args, extra)) })));
    expect(seen).toEqual(cases.map(([args, , expected]) => ({ args, ...expected })));
  }, 60_000);
});
