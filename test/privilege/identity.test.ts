import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ErrorCode } from "../../src/errors.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { identifyPeers } from "../../src/daemon/privilege/identify.ts";
import { lookupUser } from "../../src/daemon/privilege/users.ts";
import { FrameDecoder, MAX_RESPONSE_FRAME, decodeResponse } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { BUN } from "../helpers/env.ts";
import { privilegeSkipReason, skipNotice } from "./fixtures.ts";

describe("identifyPeers", () => {
  const logger = createLogger(null, "error");
  const owner = 1000;

  test("a process in a plugin service's session acts as that plugin; others by uid", async () => {
    // A detached child leads its own session, like a managed service.
    const leader = Bun.spawn(["/bin/sh", "-c", "sleep 30 & echo $!; wait"], { detached: true, stdout: "pipe" });
    const reader = leader.stdout.getReader();
    const { value } = await reader.read();
    const member = Number(new TextDecoder().decode(value).trim());
    const outsider = Bun.spawn(["/bin/sleep", "30"], { detached: true });
    try {
      const identify = identifyPeers(owner, (sid) => (sid === leader.pid ? { name: "svc", plugin: "p1" } : undefined), logger);
      expect(identify({ pid: leader.pid, uid: 999, gid: 999 })).toMatchObject({ role: "plugin", plugin: "p1", service: "svc" });
      expect(identify({ pid: member, uid: 999, gid: 999 })).toMatchObject({ role: "plugin", plugin: "p1", service: "svc" });
      // Even with the owner's uid, a plugin's process never gets admin rights.
      expect(identify({ pid: member, uid: owner, gid: 0 })).toMatchObject({ role: "plugin", plugin: "p1" });
      expect(identify({ pid: outsider.pid, uid: owner, gid: 0 })).toMatchObject({ role: "admin" });
      expect(identify({ pid: outsider.pid, uid: 0, gid: 0 })).toMatchObject({ role: "admin" });
      expect(identify({ pid: outsider.pid, uid: 999, gid: 999 })).toBeNull();
      // An ad-hoc service (no plugin) of another uid acts as itself, with no plugin.
      const adhoc = identifyPeers(owner, (sid) => (sid === leader.pid ? { name: "web" } : undefined), logger);
      const adhocCaller = adhoc({ pid: member, uid: 999, gid: 999 });
      expect(adhocCaller).toMatchObject({ role: "plugin", service: "web" });
      expect(adhocCaller?.plugin).toBeUndefined();
      expect(adhoc({ pid: member, uid: owner, gid: 0 })).toMatchObject({ role: "admin" });
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

/** Connect as another user, send a ping, return the raw response bytes (the peer runs a tiny script as that uid). */
async function pingAs(uid: number, gid: number, socket: string): Promise<Uint8Array> {
  // Bun reads the script's directory while resolving it: give the peer a readable one of its own.
  const dir = mkdtempSync(join(tmpdir(), "adi-t-peer-"));
  chmodSync(dir, 0o755);
  const script = join(dir, "peer.mjs");
  writeFileSync(
    script,
    `const got = [];
const s = await Bun.connect({ unix: process.argv[2], socket: { data(_s, d) { got.push(...d); }, close() { console.log(JSON.stringify(got)); process.exit(0); }, error() {} } });
s.write(new Uint8Array([4, 0, 0, 0, 8, 1, 18, 0]));
setTimeout(() => { console.log(JSON.stringify(got)); process.exit(3); }, 3000);
`,
    { mode: 0o644 },
  );
  const proc = Bun.spawn([BUN, script, socket], { uid, gid, cwd: "/", stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const [out, errText, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) throw new Error(`peer exited ${code}: ${errText} ${out}`);
  return new Uint8Array(JSON.parse(out));
}

describe.skipIf(skip !== null)("the daemon's socket", () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = new TestDaemon();
    // tempHome's parent is 0700: let other users reach ADI_HOME, as a real deployment must.
    chmodSync(dirname(daemon.home), 0o711);
    await daemon.start();
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });

  test("isolation is on; ADI_HOME 0711 and the socket 0666 so services running as adi can connect", async () => {
    const client = daemon.client();
    const status = await client.status();
    client.close();
    expect(status.isolation).toBe(true);
    expect(statSync(daemon.home).mode & 0o777).toBe(0o711);
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
    const bytes = await pingAs(uid, gid, daemon.socket);
    const frames = new FrameDecoder(MAX_RESPONSE_FRAME).push(bytes).map(decodeResponse);
    expect(frames.length).toBe(1);
    expect(frames[0]!.id).toBe(0);
    expect(frames[0]!.kind.case).toBe("error");
    if (frames[0]!.kind.case === "error") expect(frames[0]!.kind.value.code).toBe(ErrorCode.PERMISSION_DENIED);
    const log = readFileSync(join(daemon.home, "logs", "daemon.log"), "utf8");
    expect(log).toMatch(new RegExp(`peer refused.*uid=${uid}`));
    void name;
  });
});
