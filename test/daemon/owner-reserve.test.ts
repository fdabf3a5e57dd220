import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "../../src/errors.ts";
import type { Caller } from "../../src/daemon/caller.ts";
import { coreMethods } from "../../src/daemon/methods/core.ts";
import { createLogger } from "../../src/daemon/logger.ts";
import { Router } from "../../src/daemon/router.ts";
import { ownerReservedConnections, pluginConnectionShare, startServer } from "../../src/daemon/server.ts";
import { encodeRequestFrame } from "../../src/protocol/index.ts";
import { sleep } from "../helpers/env.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

const PING = encodeRequestFrame({ id: 1, kind: { case: "ping", value: {} } });

async function answer(s: RawSocket): Promise<RawSocket["responses"][number] | undefined> {
  s.write(PING);
  for (let i = 0; i < 200 && s.responses.length === 0; i++) await sleep(10);
  return s.responses[0];
}

function serve(path: string, cap: number, who: () => Pick<Caller, "role" | "plugin">) {
  const logger = createLogger(null, "error");
  return startServer({
    address: path,
    router: new Router(coreMethods({ logger, version: "test", startedAt: performance.now(), stopping: () => false } as never, () => ({}) as never), logger),
    logger,
    identify: (cred) => (cred ? { ...who(), uid: cred.uid, gid: cred.gid, pid: cred.pid } : null),
    maxConnections: cap,
  });
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
  // Five plugins take turns: each stays within its share, together they take all plugins may.
  let turn = 0;
  const server = serve(path, CAP, () => ({ role, plugin: role === "plugin" ? `p${turn++ % 5}` : undefined }));
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

// One plugin could hold every connection plugins may take, and keep the other plugins out.
test("one plugin holds at most its share; the other plugins still get in; a closed one frees a place", async () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-t-"));
  const path = join(dir, "s.sock");
  const CAP = 40;
  const share = pluginConnectionShare(CAP);
  expect(share).toBe(7); // (40 − 10 kept for the owner) / 4
  expect(pluginConnectionShare(1024)).toBe(240);
  let plugin = "greedy";
  const server = serve(path, CAP, () => ({ role: "plugin", plugin }));
  const sockets: RawSocket[] = [];
  try {
    const held: RawSocket[] = [];
    for (let i = 0; i < share; i++) held.push(await RawSocket.connect(path));
    sockets.push(...held);
    for (const s of held) expect((await answer(s))?.kind.case).toBe("pong");
    const extra = await RawSocket.connect(path);
    sockets.push(extra);
    const refused = await answer(extra);
    expect(refused?.kind.case === "error" && refused.kind.value.code).toBe(ErrorCode.RESOURCE_EXHAUSTED);
    expect(refused?.kind.case === "error" && refused.kind.value.message).toBe(`plugin greedy holds ${share} connections, the most one plugin may (the rest are for other plugins and the owner)`);
    plugin = "other";
    const other = await RawSocket.connect(path);
    sockets.push(other);
    expect((await answer(other))?.kind.case).toBe("pong");
    // One of greedy's closes: its place is free again.
    held[0]!.end();
    for (let i = 0; i < 200 && server.connections.size > share; i++) await sleep(10);
    plugin = "greedy";
    const again = await RawSocket.connect(path);
    sockets.push(again);
    expect((await answer(again))?.kind.case).toBe("pong");
  } finally {
    for (const s of sockets) s.end();
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// 40 connections of one plugin that asked for 16 MB answers and read none held 714 MB of the daemon:
// each stayed under its own 64 MiB cap, and nothing bounded them together.
test("the output waiting for one plugin's connections together is bounded; other plugins and the owner are not charged", async () => {
  const dir = mkdtempSync(join(tmpdir(), "adi-t-"));
  const path = join(dir, "s.sock");
  const logger = createLogger(null, "error");
  const big = Array.from({ length: 1000 }, (_, i) => ({ name: `s${i}`, command: "x".repeat(4000) }));
  const router = new Router(
    {
      ...coreMethods({ logger, version: "test", startedAt: performance.now(), stopping: () => false } as never, () => ({}) as never),
      listServices: { access: "any", handle: () => ({ case: "services", value: { list: big } }) },
    } as never,
    logger,
  );
  let who: Pick<Caller, "role" | "plugin"> = { role: "plugin", plugin: "hoarder" };
  const server = startServer({
    address: path,
    router,
    logger,
    identify: (cred) => (cred ? { ...who, uid: cred.uid, gid: cred.gid, pid: cred.pid } : null),
    pluginMaxQueuedBytes: 20 * 1024 * 1024,
  });
  const { connect } = await import("node:net");
  const sockets: import("node:net").Socket[] = [];
  // A client that asks for three ≈ 4 MB answers and reads none of them (a paused socket: its close is not seen either,
  // so the server's own list of connections says which were closed).
  const hoard = async () => {
    const s = connect({ path });
    sockets.push(s);
    s.pause();
    await new Promise((r) => s.once("connect", r));
    for (let id = 1; id <= 3; id++) s.write(encodeRequestFrame({ id, kind: { case: "listServices", value: {} } }));
  };
  const queuedBy = (plugin: string | undefined) =>
    [...server.connections].filter((c) => c.caller.plugin === plugin).map((c) => c.out.queuedBytes > 8 * 1024 * 1024);
  const settle = async (plugin: string | undefined, n: number) => {
    for (let i = 0; i < 300 && queuedBy(plugin).filter(Boolean).length < n; i++) await sleep(10);
  };
  try {
    await hoard();
    await settle("hoarder", 1);
    expect(queuedBy("hoarder")).toEqual([true]);
    // The second one takes the hoarder past 20 MiB: it is closed, the first one stays.
    await hoard();
    await sleep(500);
    expect(queuedBy("hoarder")).toEqual([true]);
    // Another plugin, and the owner, each queue as much: theirs is not the hoarder's budget.
    who = { role: "plugin", plugin: "other" };
    await hoard();
    await settle("other", 1);
    who = { role: "admin", plugin: undefined };
    await hoard();
    await settle(undefined, 1);
    await sleep(300);
    expect([queuedBy("hoarder"), queuedBy("other"), queuedBy(undefined)]).toEqual([[true], [true], [true]]);
  } finally {
    for (const s of sockets) s.destroy();
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
