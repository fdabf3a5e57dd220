import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "../../src/errors.ts";
import type { Caller } from "../../src/daemon/caller.ts";
import { coreMethods } from "../../src/daemon/methods/core.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { Router } from "../../src/daemon/router.ts";
import { ownerReservedConnections, startServer } from "../../src/daemon/server.ts";
import { encodeRequestFrame } from "../../src/protocol/index.ts";
import { sleep } from "../helpers/env.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

const PING = encodeRequestFrame({ id: 1, kind: { case: "ping", value: {} } });

async function answer(s: RawSocket): Promise<RawSocket["responses"][number] | undefined> {
  s.write(PING);
  for (let i = 0; i < 200 && s.responses.length === 0; i++) await sleep(10);
  return s.responses[0];
}

// The cap was checked before the peer was identified: a plugin that held every slot locked its owner
// out (`adi daemon stop` included) until the daemon was restarted.
test("plugins cannot take the connections kept for the owner; the owner still gets in", async () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-t-"));
  const path = join(dir, "s.sock");
  const CAP = 40;
  const reserved = ownerReservedConnections(CAP);
  expect(reserved).toBe(10);
  expect(ownerReservedConnections(1024)).toBe(64);
  let role: Caller["role"] = "plugin";
  const logger = createLogger(null, "error");
  const server = startServer({
    address: path,
    router: new Router(coreMethods({ logger, version: "test", startedAt: performance.now(), stopping: () => false } as never, () => ({}) as never), logger),
    logger,
    identify: (cred) => (cred ? { role, uid: cred.uid, gid: cred.gid, pid: cred.pid, plugin: role === "plugin" ? "greedy" : undefined } : null),
    maxConnections: CAP,
  });
  const sockets: RawSocket[] = [];
  try {
    const pluginHeld: RawSocket[] = [];
    for (let i = 0; i < CAP - reserved; i++) pluginHeld.push(await RawSocket.connect(path));
    sockets.push(...pluginHeld);
    for (const s of pluginHeld) expect((await answer(s))?.kind.case).toBe("pong");
    // One more for the plugin: refused, naming the reserve.
    const extra = await RawSocket.connect(path);
    sockets.push(extra);
    const refused = await answer(extra);
    expect(refused?.kind.case === "error" && refused.kind.value.code).toBe(ErrorCode.RESOURCE_EXHAUSTED);
    expect(refused?.kind.case === "error" && refused.kind.value.message).toContain(`${reserved} more are kept for its owner`);
    // The owner gets every kept slot, and no more.
    role = "admin";
    for (let i = 0; i < reserved; i++) {
      const owner = await RawSocket.connect(path);
      sockets.push(owner);
      expect((await answer(owner))?.kind.case).toBe("pong");
    }
    const over = await RawSocket.connect(path);
    sockets.push(over);
    const full = await answer(over);
    expect(full?.kind.case === "error" && full.kind.value.message).toContain(`at most ${CAP} connections`);
    expect(server.connections.size).toBe(CAP);
  } finally {
    for (const s of sockets) s.end();
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
