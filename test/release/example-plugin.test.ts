import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ServiceState, type DaemonClient } from "../../src/client/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { ROOT, waitFor } from "../helpers/env.ts";
import { privilegeSkipReason } from "../privilege/fixtures.ts";

/**
 * examples/hello-plugin end to end: compiled with `bun build --compile`
 * against the client (`import … from "adi/client"`), installed with
 * `adi plugin install --yes`, its service started through the daemon; its
 * log must show each call's outcome. Run twice: with isolation off (always;
 * ADI_USER names a user that does not exist) and on (root with the adi users).
 */

const EXAMPLE = join(ROOT, "examples", "hello-plugin");
let work: string;
let pluginSrc: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "adi-example-"));
  chmodSync(work, 0o755);
  pluginSrc = join(work, "hello-plugin");
  mkdirSync(join(pluginSrc, "bin"), { recursive: true });
  copyFileSync(join(EXAMPLE, "plugin.toml"), join(pluginSrc, "plugin.toml"));
  // The build command of examples/hello-plugin/README.md.
  const build = Bun.spawn(
    [process.execPath, "build", "--compile", "--minify", join(EXAMPLE, "src", "main.ts"), "--outfile", join(pluginSrc, "bin", "hello-plugin")],
    { cwd: EXAMPLE, stdout: "pipe", stderr: "pipe" },
  );
  const [out, err, code] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
  if (code !== 0) throw new Error(`compiling the example failed:\n${out}${err}`);
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The plugin's lines, keyed by call: "hello-plugin ping: ok …" -> { ping: "ok …" }. */
function parse(lines: string[]): Record<string, string> {
  const calls: Record<string, string> = {};
  for (const line of lines) {
    const m = /^hello-plugin ([^:]+): (.*)$/.exec(line);
    if (m) calls[m[1]!] = m[2]!;
  }
  return calls;
}

async function pluginLog(client: DaemonClient): Promise<string[]> {
  return (await client.logs("hello", { lines: 200 })).map((l) => l.text);
}

/** Install, start the daemon, start the service, wait for its "ready" line. */
async function runExample(daemon: TestDaemon): Promise<{ calls: Record<string, string>; client: DaemonClient }> {
  const install = await daemon.cli(["plugin", "install", pluginSrc, "--yes"]);
  expect(install.code).toBe(0);
  expect(install.stderr).toContain("id -u"); // the approval dialogue is on stderr
  await daemon.start();
  const client = daemon.client();
  await client.startService("hello");
  let lines: string[] = [];
  await waitFor(async () => {
    lines = await pluginLog(client);
    return lines.some((l) => l.startsWith("hello-plugin ready:"));
  }, 20_000, "the example plugin's ready line").catch((err) => {
    throw new Error(`${(err as Error).message}\nservice log:\n${lines.join("\n")}`);
  });
  return { calls: parse(lines), client };
}

describe("isolation off: calls work as the owner, sudo_run is denied", () => {
  let daemon: TestDaemon;
  let calls: Record<string, string>;
  let client: DaemonClient;

  beforeAll(async () => {
    daemon = new TestDaemon({ env: { ADI_USER: "adi-t-no-such-user", ADI_ROOT_USER: "adi-t-no-such-root" } });
    ({ calls, client } = await runExample(daemon));
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await daemon?.cleanup();
  });

  test("the service found the daemon through ADI_DAEMON_SOCKET", () => {
    expect(calls.start).toContain(`socket=${daemon.socket}`);
    expect(calls.start).toContain("service=hello");
  });

  test("ping and hello: the service is identified as its plugin", () => {
    expect(calls.ping).toMatch(/^ok version=\d+\.\d+\.\d+ uptime=\d+s$/);
    expect(calls.hello).toMatch(/^ok role=plugin plugin=hello-plugin /);
  });

  test("list_services shows the plugin's own service running", () => {
    expect(calls.list_services).toMatch(/^ok 1 service\(s\): hello=running$/);
  });

  test("run executes as the daemon's owner", () => {
    expect(calls["run id -u"]).toBe(`ok exit=0 uid=${process.getuid!()}`);
  });

  test("sudo_run is denied with the reason", () => {
    expect(calls["sudo_run id -u"]).toMatch(/^denied: isolation is not set up: .*adi-t-no-such-user/);
  });

  test("stopping the service through the daemon delivers SIGTERM to the plugin", async () => {
    await client.stopService("hello");
    await waitFor(async () => (await client.listServices()).find((s) => s.name === "hello")?.state === ServiceState.STOPPED, 15_000, "hello stopped");
    expect(parse(await pluginLog(client)).stop).toBe("received SIGTERM");
  });
});

const privSkip = privilegeSkipReason();
if (privSkip) console.log(`SKIP test/release/example-plugin.test.ts (isolation on): ${privSkip}`);

describe.skipIf(privSkip !== null)("isolation on: run as adi, the approved sudo_run as root", () => {
  let daemon: TestDaemon;
  let calls: Record<string, string>;
  let client: DaemonClient;

  beforeAll(async () => {
    daemon = new TestDaemon();
    // tempHome's parent is 0700: the service runs as adi and must reach ADI_HOME.
    chmodSync(dirname(daemon.home), 0o711);
    ({ calls, client } = await runExample(daemon));
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await daemon?.cleanup();
  });

  test("every call worked", () => {
    expect(calls.ping).toMatch(/^ok /);
    expect(calls.hello).toMatch(/^ok role=plugin plugin=hello-plugin /);
    expect(calls.list_services).toMatch(/hello=running/);
    const adiUid = Bun.spawnSync(["id", "-u", "adi"]).stdout.toString().trim();
    expect(calls["run id -u"]).toBe(`ok exit=0 uid=${adiUid}`);
    expect(calls["sudo_run id -u"]).toBe("ok exit=0 uid=0");
  });
});
