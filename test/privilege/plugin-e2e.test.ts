import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { BUN, pidAlive, ROOT, waitFor } from "../helpers/env.ts";
import { privilegeSkipReason, skipNotice } from "./fixtures.ts";

const skip = privilegeSkipReason();
skipNotice("test/privilege/plugin-e2e.test.ts", skip);

/**
 * The plugin's service: a Bun script that talks to the daemon with the public
 * client, exactly as a plugin would, and prints what it got to its log.
 */
const SCRIPT = `#!${BUN}
const { DaemonClient } = await import(${JSON.stringify(join(ROOT, "src", "client", "index.ts"))});
const dec = (b) => new TextDecoder().decode(b);
const c = new DaemonClient();
const out = { pid: process.pid };
const hello = await c.hello();
out.role = hello.role;
out.plugin = hello.plugin;
const who = await c.run("id", ["-un"]);
out.runUser = dec(who.stdout).trim();
const sudoFromRun = await c.run("sudo", ["-n", "true"]);
out.sudoFromRunExit = sudoFromRun.exitCode;
const s = await c.sudoRun("id", ["-u"], "e2e: who am i as root?");
out.sudoAllowed = s.allowed;
out.sudoStdout = s.allowed ? dec(s.result.stdout) : s.reason;
out.sudoExit = s.allowed ? s.result.exitCode : null;
const denied = await c.sudoRun("id", ["-u", "root"], "extra argument");
out.extraAllowed = denied.allowed;
out.extraReason = denied.allowed ? "" : denied.reason;
try { await c.shutdown(); out.shutdown = "allowed"; } catch (e) { out.shutdown = e.code; }
console.log("RESULT " + JSON.stringify(out));
c.close();
await new Promise(() => {});
`;

describe.skipIf(skip !== null)("a plugin service talking to the daemon", () => {
  let daemon: TestDaemon;
  let result: Record<string, unknown>;

  beforeAll(async () => {
    daemon = new TestDaemon();
    // tempHome's parent is 0700: services running as adi must reach ADI_HOME.
    chmodSync(dirname(daemon.home), 0o711);
    const src = join(dirname(daemon.home), "src-e2e");
    mkdirSync(join(src, "bin"), { recursive: true });
    writeFileSync(join(src, "bin", "e2e"), SCRIPT, { mode: 0o755 });
    writeFileSync(
      join(src, "plugin.toml"),
      `name = "e2e"\nversion = "1.0.0"\nexecutable = "bin/e2e"\nprivileged_commands = ["id -u"]\n[service]\nname = "e2e-svc"\ncommand = "serve"\nrestart_on_failure = false\n`,
    );
    const install = await daemon.cli(["plugin", "install", src, "--yes"]);
    expect(install.code).toBe(0);
    await daemon.start();
    const client = daemon.client();
    await client.startService("e2e-svc");
    const log = join(daemon.home, "logs", "services", "e2e-svc.log");
    let text = "";
    await waitFor(() => {
      try {
        text = readFileSync(log, "utf8");
      } catch {}
      return text.includes("RESULT ") || /exited|failed/i.test(text);
    }, 15_000, "the plugin's RESULT line");
    const line = text.split("\n").find((l) => l.includes("RESULT "));
    if (!line) throw new Error(`the plugin service printed no result:\n${text}`);
    result = JSON.parse(line.slice(line.indexOf("RESULT ") + 7));
    client.close();
  });

  afterAll(async () => {
    await daemon?.cleanup();
  });

  test("the service's process is identified as its plugin", () => {
    expect(result.role).toBe("plugin");
    expect(result.plugin).toBe("e2e");
  });

  test('run("id", ["-un"]) returns adi; run("sudo", ["-n", "true"]) fails', () => {
    expect(result.runUser).toBe("adi");
    expect(result.sudoFromRunExit).not.toBe(0);
  });

  test('sudo_run("id", ["-u"]) with the approved pattern returns 0; an extra argument is denied', () => {
    expect(result.sudoAllowed).toBe(true);
    expect(result.sudoStdout).toBe("0\n");
    expect(result.sudoExit).toBe(0);
    expect(result.extraAllowed).toBe(false);
    expect(result.extraReason).toMatch(/no match/);
  });

  test("admin-only methods are refused to a plugin", () => {
    expect(result.shutdown).toBe(4); // ErrorCode.PERMISSION_DENIED
  });

  test("the audit log names the plugin and the kernel-reported peer", () => {
    const lines = readFileSync(join(daemon.home, "logs", "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(2);
    const adiUid = lookupUser("adi")!.uid;
    expect(lines[0]).toMatchObject({ plugin: "e2e", service: "e2e-svc", peer_uid: adiUid, peer_pid: result.pid, decision: "allowed", matched_pattern: "id -u", exit_code: 0, reason: "e2e: who am i as root?" });
    expect(lines[1]).toMatchObject({ plugin: "e2e", decision: "denied", argv: ["id", "-u", "root"], reason: "extra argument" });
  });

  test("plugin remove stops its service and drops its approvals", async () => {
    const client = daemon.client();
    const before = (await client.listServices()).find((x) => x.name === "e2e-svc");
    expect(before?.pid).toBeGreaterThan(0);
    // `adi daemon remove` is for ad-hoc services: a plugin's goes with its plugin.
    const adhoc = await daemon.cli(["daemon", "remove", "e2e-svc"]);
    expect(adhoc.code).toBe(1);
    expect(adhoc.stderr).toContain("service e2e-svc is declared by plugin e2e: remove the plugin (adi plugin remove e2e)");
    expect((await client.listServices()).find((x) => x.name === "e2e-svc")?.pid).toBe(before!.pid);
    const r = await daemon.cli(["plugin", "remove", "e2e"]);
    expect(r.code).toBe(0);
    const after = (await client.listServices()).find((x) => x.name === "e2e-svc");
    client.close();
    expect(after).toBeUndefined();
    await waitFor(() => !pidAlive(before!.pid), 5_000, "the plugin's service to stop");
    expect(JSON.parse(readFileSync(join(daemon.home, "approvals.json"), "utf8")).plugins.e2e).toBeUndefined();
  });
});
