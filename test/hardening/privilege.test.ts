import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { dirname, join } from "node:path";
import { TestDaemon } from "../helpers/daemon.ts";
import { BUN, ROOT, waitFor } from "../helpers/env.ts";
import { privilegeSkipReason, skipNotice, Stub } from "../privilege/fixtures.ts";

const skip = privilegeSkipReason();
skipNotice("test/hardening/privilege.test.ts", skip);

/**
 * The denial cases of the privilege model, attempted by a real plugin service
 * (running as `adi`, identified by the kernel) against the compiled daemon,
 * plus the `adi` user trying to tamper with the approvals file and the plugin
 * directory. The service prints one JSON line per phase.
 */
function script(stubName: string, home: string, phase2: string): string {
  return `#!${BUN}
const { DaemonClient } = await import(${JSON.stringify(join(ROOT, "src", "client", "index.ts"))});
const { existsSync } = await import("node:fs");
const c = new DaemonClient();
const out = {};
const deny = async (key, cmd, args) => {
  try { const r = await c.sudoRun(cmd, args, "hardening " + key); out[key] = r.allowed ? "ALLOWED" : r.reason; }
  catch (e) { out[key] = "error " + e.code + " " + e.message; }
};
const admin = async (key, fn) => { try { await fn(); out[key] = "ALLOWED"; } catch (e) { out[key] = e.code; } };
const sh = async (key, line) => { const r = await c.run("sh", ["-c", line]); out[key] = r.exitCode; };
if (existsSync(${JSON.stringify(phase2)})) {
  await deny("after_tamper", ${JSON.stringify(stubName)}, ["-u"]);
  console.log("PHASE2 " + JSON.stringify(out));
} else {
  await deny("extra_arg", ${JSON.stringify(stubName)}, ["-u", "root"]);
  await deny("missing_arg", ${JSON.stringify(stubName)}, []);
  await deny("joined_args", ${JSON.stringify(stubName)}, ["-u root"]);
  await deny("metachar", ${JSON.stringify(stubName)}, ["-u;id"]);
  await deny("shell", "sh", ["-c", "id"]);
  await deny("unapproved", "id", ["-u"]);
  await deny("relative", "./" + ${JSON.stringify(stubName)}, ["-u"]);
  await deny("other_path", "/tmp/" + ${JSON.stringify(stubName)}, ["-u"]);
  await admin("shutdown", () => c.shutdown());
  await admin("define_service", () => c.startService("sneaky", { command: "true" }));
  await admin("stop_other", () => c.stopService("bystander"));
  await admin("reload_plugins", () => c.reloadPlugins());
  await sh("write_approvals", "echo '{}' > ${home}/approvals.json");
  await sh("replace_approvals", "ln -sf /etc/passwd ${home}/approvals.json");
  await sh("edit_manifest", "echo '# evil' >> ${home}/plugins/pv/plugin.toml");
  await sh("plant_plugin", "mkdir ${home}/plugins/evil");
  await sh("read_audit", "cat ${home}/logs/audit.log");
  await deny("allowed", ${JSON.stringify(stubName)}, ["-u"]);
  console.log("PHASE1 " + JSON.stringify(out));
}
c.close();
await new Promise(() => {});
`;
}

describe.skipIf(skip !== null)("privilege denials and tampering, compiled binary, real users", () => {
  let daemon: TestDaemon;
  let stub: Stub;
  let phase1: Record<string, unknown>;
  let approvalsBefore: string;
  let manifestBefore: string;
  const serviceLog = () => join(daemon.home, "logs", "services", "pv-svc.log");
  /** The `n`th line tagged `tag` in the service's log (each restart of the service prints one more). */
  const resultLine = async (tag: string, n = 1): Promise<Record<string, unknown>> => {
    let lines: string[] = [];
    let text = "";
    await waitFor(() => {
      try {
        text = readFileSync(serviceLog(), "utf8");
      } catch {}
      lines = text.split("\n").filter((l) => l.includes(`${tag} `));
      return lines.length >= n;
    }, 20_000, `the plugin's ${tag} line #${n}`).catch((e) => {
      throw new Error(`${e.message}; service log:\n${text}`);
    });
    const line = lines[n - 1]!;
    return JSON.parse(line.slice(line.indexOf(`${tag} `) + tag.length + 1));
  };

  beforeAll(async () => {
    daemon = new TestDaemon();
    stub = new Stub();
    chmodSync(dirname(daemon.home), 0o711);
    const src = join(dirname(daemon.home), "src-pv");
    mkdirSync(join(src, "bin"), { recursive: true });
    writeFileSync(join(src, "bin", "pv"), script(stub.name, daemon.home, join(dirname(daemon.home), "phase2")), { mode: 0o755 });
    writeFileSync(
      join(src, "plugin.toml"),
      `name = "pv"\nversion = "1.0.0"\nexecutable = "bin/pv"\nprivileged_commands = ["${stub.name} -u"]\n[service]\nname = "pv-svc"\ncommand = "serve"\nrestart_on_failure = false\n`,
    );
    expect((await daemon.cli(["plugin", "install", src, "--yes"])).code).toBe(0);
    await daemon.start();
    const c = daemon.client();
    await c.startService("bystander", { command: "sleep", args: ["1000"] });
    approvalsBefore = readFileSync(join(daemon.home, "approvals.json"), "utf8");
    manifestBefore = readFileSync(join(daemon.home, "plugins", "pv", "plugin.toml"), "utf8");
    await c.startService("pv-svc");
    c.close();
    phase1 = await resultLine("PHASE1");
    console.log(`privilege phase 1 (as adi): ${JSON.stringify(phase1)}`);
  }, 60_000);

  afterAll(async () => {
    await daemon?.cleanup();
    stub?.cleanup();
  });

  test("every sudo_run outside the approved argv is denied with a reason; the approved one runs", () => {
    for (const k of ["extra_arg", "missing_arg", "joined_args", "metachar", "shell", "unapproved", "relative", "other_path"]) {
      expect(typeof phase1[k]).toBe("string");
      expect(phase1[k]).not.toBe("ALLOWED");
      expect(String(phase1[k])).toMatch(/no match|no approved pattern|not approved|denied|refused/i);
    }
    expect(phase1.allowed).toBe("ALLOWED");
    // Only the approved call reached the stub.
    expect(readFileSync(stub.marker, "utf8")).toBe("-u\n0\n");
  });

  test("admin methods are refused to the plugin", () => {
    for (const k of ["shutdown", "define_service", "stop_other", "reload_plugins"]) expect(phase1[k]).toBe(4); // PERMISSION_DENIED
  });

  test("the adi user cannot write the approvals file, the plugin's manifest or the plugin directory, nor read the audit log", () => {
    for (const k of ["write_approvals", "replace_approvals", "edit_manifest", "plant_plugin", "read_audit"]) expect(phase1[k]).not.toBe(0);
    expect(readFileSync(join(daemon.home, "approvals.json"), "utf8")).toBe(approvalsBefore);
    expect(readFileSync(join(daemon.home, "plugins", "pv", "plugin.toml"), "utf8")).toBe(manifestBefore);
    expect(existsSync(join(daemon.home, "plugins", "evil"))).toBe(false);
  });
  test("had adi tampered anyway (approvals owned by adi, manifest edited), sudo_run is denied", async () => {
    const adi = lookupUser("adi")!;
    writeFileSync(join(dirname(daemon.home), "phase2"), "");
    const approvals = join(daemon.home, "approvals.json");
    chownSync(approvals, adi.uid, adi.gid);
    const c = daemon.client();
    await c.restartService("pv-svc");
    const p2 = await resultLine("PHASE2", 1);
    expect(String(p2.after_tamper)).toMatch(/owned by uid/);
    chownSync(approvals, 0, 0);
    appendFileSync(join(daemon.home, "plugins", "pv", "plugin.toml"), "# edited\n");
    await c.restartService("pv-svc");
    const p3 = await resultLine("PHASE2", 2);
    expect(String(p3.after_tamper)).toMatch(/changed after it was approved/);
    c.close();
    console.log(`privilege phase 2: approvals owned by adi -> "${p2.after_tamper}"; manifest edited -> "${p3.after_tamper}"`);
    // Neither attempt reached the stub.
    expect(readFileSync(stub.marker, "utf8")).toBe("-u\n0\n");
  }, 60_000);
});
