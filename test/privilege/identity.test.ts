import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ErrorCode } from "../../src/errors.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { sessionOf } from "../../src/daemon/native.ts";
import { identifyPeers } from "../../src/daemon/privilege/identify.ts";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { FrameDecoder, MAX_RESPONSE_FRAME, decodeResponse } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { readProcStat } from "../../src/util/proc-stat.ts";
import { BUN } from "../helpers/env.ts";
import { pluginSource, privilegeSkipReason, skipNotice } from "./fixtures.ts";

describe("sessionOf", () => {
  test("is getsid(2): the same session /proc reports; a session leader's is its own pid; a gone pid has none", async () => {
    // Where our session's leader lives outside this pid namespace (some CI containers), the kernel reports
    // session 0 to both getsid and /proc; sessionOf calls that no session (no service's session is 0).
    const ours = readProcStat(process.pid)!.session;
    expect(sessionOf(process.pid)).toBe(ours > 0 ? ours : null);
    // A session made here: its leader's session is its own pid, and a member reports the leader's.
    const leader = Bun.spawn(["/bin/sh", "-c", "sleep 30 & echo $!; wait"], { detached: true, stdout: "pipe" });
    let member = 0;
    try {
      const { value } = await leader.stdout.getReader().read();
      member = Number(new TextDecoder().decode(value).trim());
      expect(sessionOf(leader.pid)).toBe(leader.pid);
      expect(readProcStat(member)!.session).toBe(leader.pid);
      expect(sessionOf(member)).toBe(leader.pid);
    } finally {
      try {
        if (member > 1) process.kill(member, "SIGKILL");
      } catch {} // gone already: the leader is still to be killed, and the test's own failure to be seen
      leader.kill("SIGKILL");
    }
    expect(sessionOf(0x3ffffff0)).toBeNull();
    expect(sessionOf(0)).toBeNull();
  });
});

describe("identifyPeers", () => {
  const logger = createLogger(null, "error");
  const owner = 1000;

  test.skipIf(process.platform !== "linux")("on Linux, credentials that could not be read refuse the peer, never make it an admin", () => {
    expect(identifyPeers(owner, () => undefined, logger)(null)).toBeNull();
  });

  test("on macOS too (getpeereid failed), and only on Windows, which has no credentials, is the pipe's access the rule", () => {
    const real = process.platform;
    try {
      Object.defineProperty(process, "platform", { value: "darwin" });
      expect(identifyPeers(owner, () => undefined, logger)(null)).toBeNull();
      Object.defineProperty(process, "platform", { value: "win32" });
      expect(identifyPeers(owner, () => undefined, logger)(null)).toMatchObject({ role: "admin", uid: owner });
    } finally {
      Object.defineProperty(process, "platform", { value: real });
    }
  });

  test("a process in a plugin service's session acts as that plugin; others by uid", async () => {
    // A detached child leads its own session, like a managed service.
    const leader = Bun.spawn(["/bin/sh", "-c", "sleep 30 & echo $!; wait"], { detached: true, stdout: "pipe" });
    const reader = leader.stdout.getReader();
    const { value } = await reader.read();
    const member = Number(new TextDecoder().decode(value).trim());
    const outsider = Bun.spawn(["/bin/sleep", "30"], { detached: true });
    try {
      // Peers are our own children: /proc says they belong to `me`, and the kernel-reported uid must agree.
      const me = process.getuid!();
      const identify = identifyPeers(owner, (sid) => (sid === leader.pid ? { name: "svc", plugin: "p1" } : undefined), logger);
      expect(identify({ pid: leader.pid, uid: me, gid: 0 })).toMatchObject({ role: "plugin", plugin: "p1", service: "svc" });
      expect(identify({ pid: member, uid: me, gid: 0 })).toMatchObject({ role: "plugin", plugin: "p1", service: "svc" });
      // A uid that does not own the pid (the pid was recycled after connect) is not the service.
      expect(identify({ pid: member, uid: 999, gid: 999 })).toBeNull();
      // Even with the owner's uid, a plugin's process never gets admin rights.
      const asOwner = identifyPeers(me, (sid) => (sid === leader.pid ? { name: "svc", plugin: "p1" } : undefined), logger);
      expect(asOwner({ pid: member, uid: me, gid: 0 })).toMatchObject({ role: "plugin", plugin: "p1" });
      expect(asOwner({ pid: outsider.pid, uid: me, gid: 0 })).toMatchObject({ role: "admin" });
      expect(identify({ pid: outsider.pid, uid: 0, gid: 0 })).toMatchObject({ role: "admin" });
      expect(identify({ pid: outsider.pid, uid: 999, gid: 999 })).toBeNull();
      // An ad-hoc service (no plugin) acts as itself when its uid is neither owner nor root.
      const adhoc = identifyPeers(owner, (sid) => (sid === leader.pid ? { name: "web" } : undefined), logger);
      if (me !== 0) {
        const adhocCaller = adhoc({ pid: member, uid: me, gid: 0 });
        expect(adhocCaller).toMatchObject({ role: "plugin", service: "web" });
        expect(adhocCaller?.plugin).toBeUndefined();
      }
      const adhocAsOwner = identifyPeers(me, (sid) => (sid === leader.pid ? { name: "web" } : undefined), logger);
      expect(adhocAsOwner({ pid: member, uid: me, gid: 0 })).toMatchObject({ role: "admin" });
      // A pid that no longer exists is nobody.
      expect(identify({ pid: 0x3ffffff0, uid: 999, gid: 999 })).toBeNull();
    } finally {
      process.kill(-leader.pid, "SIGKILL");
      outsider.kill("SIGKILL");
    }
  });
});

const skip = privilegeSkipReason();
skipNotice("test/privilege/identity.test.ts", skip);

/**
 * Connect as another user (a tiny script run with that uid) and report what
 * the daemon did: the bytes it sent before closing, or the connect error. The
 * peer sends nothing: a refused peer hears about it unprompted; an accepted
 * one would wait in vain and time out (exit 3).
 * (Bun's client often reports ECONNRESET instead of the refusal frame when the
 * server writes and closes at once; python3 reads the frame every time.)
 */
async function connectAs(uid: number, gid: number, socket: string): Promise<{ bytes: number[]; error?: string }> {
  // Bun reads the script's directory while resolving it: give the peer a readable one of its own.
  const dir = mkdtempSync(join(tmpdir(), "adi-t-peer-"));
  chmodSync(dir, 0o755);
  const script = join(dir, "peer.mjs");
  writeFileSync(
    script,
    `const got = [];
const done = (error) => { console.log(JSON.stringify({ bytes: got, error })); process.exit(0); };
setTimeout(() => { console.log(JSON.stringify({ bytes: got, error: "timeout" })); process.exit(3); }, 3000);
try {
  await Bun.connect({ unix: process.argv[2], socket: { data(_s, d) { got.push(...d); }, close() { done(); }, error(_s, e) { done(e.code ?? String(e)); } } });
} catch (e) { done(e.code ?? String(e)); }
`,
    { mode: 0o644 },
  );
  const proc = Bun.spawn([BUN, script, socket], { uid, gid, cwd: "/", stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const [out, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`peer exited ${code}: ${errText} ${out}`);
  return JSON.parse(out);
}

describe.skipIf(skip !== null)("the daemon's socket", () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = new TestDaemon();
    // tempHome's parent is 0700: let other users reach ADI_HOME, as a real deployment must.
    chmodSync(dirname(daemon.home), 0o711);
    const src = pluginSource(dirname(daemon.home), "idle", [], `[service]\ncommand = "serve"\n`);
    writeFileSync(join(src, "bin", "idle"), "#!/bin/sh\nexec sleep 60\n", { mode: 0o755 });
    expect((await daemon.cli(["plugin", "install", src])).code).toBe(0);
    await daemon.start();
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });

  test("ADI_HOME 0700 and socket 0600 until a plugin service runs as adi; then 0711 and 0666", async () => {
    const client = daemon.client();
    const status = await client.status();
    expect(status.isolation).toBe(true);
    expect(statSync(daemon.home).mode & 0o777).toBe(0o700);
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o600);
    await client.startService("idle");
    const service = (await client.listServices()).find((s) => s.name === "idle");
    client.close();
    expect(service?.pid).toBeGreaterThan(0);
    expect(statSync(`/proc/${service!.pid}`).uid).toBe(lookupUser("adi")!.uid);
    expect(statSync(daemon.home).mode & 0o777).toBe(0o711);
    expect(statSync(join(daemon.home, "plugins")).mode & 0o777).toBe(0o711);
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o666);
    expect(statSync(join(daemon.home, "logs")).mode & 0o777).toBe(0o700);
  });

  test("the owner (root) is an admin", async () => {
    const client = daemon.client();
    const hello = await client.hello();
    client.close();
    expect(hello.role).toBe("admin");
    expect(hello.peerUid).toBe(0);
  });

  test.each([
    ["nobody", 65534, 65534],
    ["adi", lookupUser("adi")?.uid ?? -1, lookupUser("adi")?.gid ?? -1],
  ])("a peer running as %s outside any managed service is refused before any request", async (name, uid, gid) => {
    const seen = await connectAs(uid, gid, daemon.socket);
    // The refusal arrives before the close (the daemon half-closes, so no RST discards it).
    const frames = new FrameDecoder(MAX_RESPONSE_FRAME).push(new Uint8Array(seen.bytes)).map(decodeResponse);
    expect(frames.length).toBe(1);
    expect(frames[0]!.id).toBe(0);
    expect(frames[0]!.kind.case).toBe("error");
    if (frames[0]!.kind.case === "error") expect(frames[0]!.kind.value.code).toBe(ErrorCode.PERMISSION_DENIED);
    const log = readFileSync(join(daemon.home, "logs", "daemon.log"), "utf8");
    expect(log).toMatch(new RegExp(`peer refused.*uid=${uid}`));
    void name;
  });
});
