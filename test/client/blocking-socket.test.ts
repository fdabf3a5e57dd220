// The CLI's blocking round trip (src/client/blocking-socket.ts) must answer and
// fail exactly as DaemonClient does: same answers, same error codes and messages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blockingRoundTrip } from "../../src/client/blocking-socket.ts";
import { queueFullError } from "../../src/client/connection.ts";
import { DaemonClient } from "../../src/client/index.ts";
import { AdiError, ErrorCode } from "../../src/errors.ts";
import { encodeResponseFrame, errorResponse } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { killCarrying, tempHome } from "../helpers/env.ts";

const d = new TestDaemon();
if (process.getuid?.() !== 0) console.log("skip: blocking-socket PERMISSION_DENIED test needs root (to connect as nobody)");

beforeAll(async () => {
  await d.start();
  expect((await d.cli(["daemon", "start", "alpha", "--", "sleep", "1000"])).code).toBe(0);
}, 120_000);
afterAll(() => d.cleanup(), 120_000);

/** The error `fn` throws (fails the test when it does not throw). */
async function errorOf(fn: () => unknown): Promise<AdiError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AdiError);
    return err as AdiError;
  }
  throw new Error("expected an error");
}

/** A unix socket server that does `onData` with what it receives; closed after the test. */
async function fakeDaemon(path: string, onData: (socket: import("bun").Socket<undefined>) => void) {
  return Bun.listen({ unix: path, socket: { data: (s) => onData(s) } });
}

describe.skipIf(process.platform !== "linux")("blockingRoundTrip", () => {
  test("status and list_services: the same answers as DaemonClient, in request order", async () => {
    const answers = blockingRoundTrip(d.socket, [{ case: "listServices", value: {} }, { case: "status", value: {} }], 5_000)!;
    const client = d.client();
    try {
      const [status, list] = await Promise.all([client.status(), client.listServices()]);
      expect(answers[0]).toMatchObject({ case: "services", value: { list: list.map(({ uptimeSecs: _, ...s }) => s) } });
      expect(answers[1]!.case).toBe("status");
      const { uptimeSecs: _u, ...rest } = status;
      expect(answers[1]!.value).toMatchObject(rest);
    } finally {
      client.close();
    }
  });

  test("nothing listening: UNAVAILABLE with DaemonClient's message", async () => {
    const path = join(d.home, "nobody.sock");
    const ours = await errorOf(() => blockingRoundTrip(path, [{ case: "ping", value: {} }], 1_000));
    const theirs = await errorOf(() => new DaemonClient({ socketPath: path }).ping());
    expect(ours.code).toBe(ErrorCode.UNAVAILABLE);
    expect(ours.message).toBe(theirs.message);
  });

  test("downToClient: nothing listening (no socket file, or a stale one) is left to DaemonClient, nothing sent", async () => {
    const stale = join(d.home, "stale.sock");
    // A listener killed with its file left behind, as a crashed daemon leaves it: ECONNREFUSED.
    const script = `Bun.listen({ unix: ${JSON.stringify(stale)}, socket: { data() {} } }); process.kill(process.pid, "SIGKILL");`;
    Bun.spawnSync([process.execPath, "-e", script]);
    expect(existsSync(stale)).toBe(true);
    for (const path of [join(d.home, "nobody.sock"), stale]) {
      expect(blockingRoundTrip(path, [{ case: "stopService", value: { name: "alpha" } }], 1_000, { downToClient: true })).toBeUndefined();
      expect((await errorOf(() => blockingRoundTrip(path, [{ case: "ping", value: {} }], 1_000))).code).toBe(ErrorCode.UNAVAILABLE);
    }
  });

  test("an error answer is thrown as its AdiError", async () => {
    const e = await errorOf(() => blockingRoundTrip(d.socket, [{ case: "stopService", value: { name: "no-such" } }], 5_000));
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    expect(e.message).toContain("no-such");
  });

  test("a daemon that never answers: DEADLINE_EXCEEDED after the timeout", async () => {
    const server = await fakeDaemon(join(d.home, "silent.sock"), () => {});
    try {
      const t0 = performance.now();
      const e = await errorOf(() => blockingRoundTrip(join(d.home, "silent.sock"), [{ case: "status", value: {} }], 300));
      expect(e.code).toBe(ErrorCode.DEADLINE_EXCEEDED);
      expect(e.message).toBe("the daemon did not answer status within 300 ms");
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    } finally {
      server.stop(true);
    }
  });

  test("a daemon that answers only the first request: the timeout names the first one unanswered", async () => {
    // In a child: the round trip blocks this process, so a fake daemon here could not answer.
    const path = join(d.home, "half.sock");
    const script = `
      import { encodeResponseFrame } from ${JSON.stringify(join(import.meta.dir, "../../src/protocol/index.ts"))};
      Bun.listen({ unix: process.env.SOCK, socket: { data: (s) => s.write(encodeResponseFrame({ id: 1, kind: { case: "pong", value: {} } })) } });
      console.log("ready");`;
    const child = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, SOCK: path }, stdout: "pipe" });
    try {
      await child.stdout.getReader().read(); // "ready"
      const e = await errorOf(() => blockingRoundTrip(path, [{ case: "ping", value: {} }, { case: "status", value: {} }, { case: "listServices", value: {} }], 300));
      expect(e.code).toBe(ErrorCode.DEADLINE_EXCEEDED);
      expect(e.message).toBe("the daemon did not answer status within 300 ms");
    } finally {
      child.kill("SIGKILL");
      await child.exited;
    }
  });

  test("a daemon that hangs up, or refuses the connection with an error frame", async () => {
    const hangUp = await fakeDaemon(join(d.home, "hangup.sock"), (s) => s.end());
    const refuse = await fakeDaemon(join(d.home, "refuse.sock"), (s) => {
      s.write(encodeResponseFrame(errorResponse(0, new AdiError(ErrorCode.PERMISSION_DENIED, "this daemon belongs to another user"))));
      s.end();
    });
    try {
      // The fake servers answer from this process's event loop, which a blocking call would hold: run them in a child.
      const script = `
        import { blockingRoundTrip } from ${JSON.stringify(join(import.meta.dir, "../../src/client/blocking-socket.ts"))};
        for (const path of JSON.parse(process.env.PATHS)) {
          try { blockingRoundTrip(path, [{ case: "ping", value: {} }], 5000); console.log("answered"); }
          catch (e) { console.log(e.code + " " + e.message); }
        }`;
      const env = { ...process.env, PATHS: JSON.stringify([join(d.home, "hangup.sock"), join(d.home, "refuse.sock")]) };
      const r = Bun.spawn([process.execPath, "-e", script], { env, stdout: "pipe" });
      const lines = (await new Response(r.stdout).text()).trim().split("\n");
      expect(lines).toEqual([`${ErrorCode.UNAVAILABLE} the connection to the daemon was lost`, `${ErrorCode.PERMISSION_DENIED} this daemon belongs to another user`]);
    } finally {
      hangUp.stop(true);
      refuse.stop(true);
    }
  });

  test("a daemon that goes away while requests are still being written: UNAVAILABLE, not death by SIGPIPE", async () => {
    // The socket is written with write(2), not send(MSG_NOSIGNAL): this holds because Bun ignores SIGPIPE.
    // 100,000 pings are more than a socket buffer holds, so writing is still going on when the peer closes.
    const path = join(d.home, "vanish.sock");
    const server = Bun.listen({ unix: path, socket: { open: (s) => void s.terminate(), data() {} } });
    try {
      const script = `
        import { blockingRoundTrip } from ${JSON.stringify(join(import.meta.dir, "../../src/client/blocking-socket.ts"))};
        const pings = Array.from({ length: 100000 }, () => ({ case: "ping", value: {} }));
        try { blockingRoundTrip(process.env.SOCK, pings, 10000); console.log("answered"); }
        catch (e) { console.log(e.code + " " + e.message); }`;
      const child = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, SOCK: path }, stdout: "pipe" });
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const output = (await new Response(child.stdout).text()).trim();
      clearTimeout(killer);
      expect(child.signalCode).toBeNull();
      expect(await child.exited).toBe(0);
      expect(output.startsWith(`${ErrorCode.UNAVAILABLE} `)).toBe(true);
    } finally {
      server.stop(true);
    }
  });

  test("a daemon whose listen queue is full (its event loop stuck): RESOURCE_EXHAUSTED at once, never a hang, never 'not running'", async () => {
    // A listener that never accepts, with a queue of one and one connection already waiting in it,
    // at the socket of an ADI_HOME of its own. Run in a child: a blocking connect() here would hang
    // the test runner itself. The child asks it over the blocking socket, through DaemonClient (Bun
    // reports the full queue as ECONNREFUSED, as for a socket nobody listens on), and with the CLI.
    const stuck = tempHome();
    mkdirSync(stuck.home, { recursive: true, mode: 0o700 });
    const path = join(stuck.home, "daemon.sock");
    const script = `
      import { dlopen, FFIType, ptr } from "bun:ffi";
      import { blockingRoundTrip } from ${JSON.stringify(join(import.meta.dir, "../../src/client/blocking-socket.ts"))};
      import { DaemonClient } from ${JSON.stringify(join(import.meta.dir, "../../src/client/index.ts"))};
      import { AF_UNIX, SOCK_STREAM_NONBLOCK, sockaddrUn } from ${JSON.stringify(join(import.meta.dir, "../../src/client/sockaddr.ts"))};
      const { symbols: c } = dlopen("libc.so.6", {
        socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
        listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
      });
      const path = process.env.STUCK;
      const addr = sockaddrUn(path);
      const listener = c.socket(AF_UNIX, 1, 0);
      if (c.bind(listener, ptr(addr), addr.length) !== 0 || c.listen(listener, 0) !== 0) throw new Error("listen failed");
      c.connect(c.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0), ptr(addr), addr.length);
      const said = {};
      const code = async (fn) => { try { await fn(); return "no error"; } catch (e) { return e.code + " " + e.message; } };
      said.blocking = await code(() => blockingRoundTrip(path, [{ case: "status", value: {} }], 10000));
      said.blockingDown = await code(() => blockingRoundTrip(path, [{ case: "status", value: {} }], 10000, { downToClient: true }));
      const client = new DaemonClient({ socketPath: path, launcher: ["/bin/false"] });
      said.ping = await code(() => client.ping());
      said.isRunning = await code(() => client.isRunning());
      said.ensureRunning = await code(() => client.ensureRunning());
      for (const args of [["daemon", "status"], ["daemon", "services"], ["daemon", "start"], ["daemon", "logs", "web"], ["daemon", "stop", "web"], ["daemon", "stop"]]) {
        const r = Bun.spawnSync([...JSON.parse(process.env.ADI_ARGV0), ...args], { stderr: "pipe", stdout: "pipe" });
        said[args.join(" ")] = r.exitCode + " " + r.stderr.toString().trim() + r.stdout.toString().trim();
      }
      console.log(JSON.stringify(said));`;
    const child = Bun.spawn([process.execPath, "-e", script], {
      env: { ...stuck.env, STUCK: path, ADI_ARGV0: JSON.stringify(d.argv0) },
      stdout: "pipe",
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      const said = JSON.parse((await new Response(child.stdout).text()).trim()) as Record<string, string>;
      const message = queueFullError(path).message;
      const error = `${ErrorCode.RESOURCE_EXHAUSTED} ${message}`;
      expect(said.blocking).toBe(error);
      expect(said.blockingDown).toBe(error); // not left to DaemonClient, which would start a second daemon
      expect(said.ping).toBe(error);
      expect(said.isRunning).toBe(error);
      expect(said.ensureRunning).toBe(error); // did not launch (its launcher would fail with UNAVAILABLE)
      // The CLI says so too, with exit 1 (3 is "not running"): over the blocking socket (stderr is
      // no terminal), and through DaemonClient for stopping the daemon.
      for (const command of ["daemon status", "daemon services", "daemon start", "daemon logs web", "daemon stop web", "daemon stop"]) {
        expect(said[command], command).toBe(`1 error: ${message}`);
      }
    } finally {
      clearTimeout(killer);
      await child.exited;
      killCarrying(`ADI_HOME=${stuck.home}`);
      stuck.cleanup();
    }
  });

  test("ensureRunning: a freshly launched daemon whose queue is full for a moment is waited for, not reported", async () => {
    // The launcher binds the socket with a queue of one, already full (a daemon busy at its start
    // while many clients race), then after 400 ms listens for real and answers ping. The poll used
    // to stop at the first RESOURCE_EXHAUSTED and fail a start that was about to succeed.
    const t = tempHome();
    mkdirSync(t.home, { recursive: true, mode: 0o700 });
    const path = join(t.home, "daemon.sock");
    const pidFile = join(t.home, "launched.pid");
    const launcher = join(t.home, "launcher.ts");
    const src = (m: string) => JSON.stringify(join(import.meta.dir, "../../src", m));
    writeFileSync(
      launcher,
      `import { dlopen, FFIType, ptr } from "bun:ffi";
      import { unlinkSync, writeFileSync } from "node:fs";
      import { AF_UNIX, SOCK_STREAM_NONBLOCK, sockaddrUn } from ${src("client/sockaddr.ts")};
      import { FrameDecoder, MAX_REQUEST_FRAME, decodeRequest, encodeResponseFrame } from ${src("protocol/index.ts")};
      writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
      const { symbols: c } = dlopen("libc.so.6", {
        socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
        listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
      });
      const path = ${JSON.stringify(path)};
      const addr = sockaddrUn(path);
      const listener = c.socket(AF_UNIX, 1, 0);
      if (c.bind(listener, ptr(addr), addr.length) !== 0 || c.listen(listener, 0) !== 0) process.exit(9);
      const waiting = c.socket(AF_UNIX, SOCK_STREAM_NONBLOCK, 0);
      c.connect(waiting, ptr(addr), addr.length);
      await Bun.sleep(400);
      c.close(waiting);
      c.close(listener);
      unlinkSync(path);
      Bun.listen({ unix: path, socket: {
        open(s) { s.data = new FrameDecoder(MAX_REQUEST_FRAME); },
        data(s, bytes) { for (const f of s.data.push(new Uint8Array(bytes))) s.write(encodeResponseFrame({ id: decodeRequest(f).id, kind: { case: "pong", value: {} } })); },
      } });
      setTimeout(() => process.exit(0), 20_000);`,
    );
    const client = new DaemonClient({ socketPath: path, launcher: [process.execPath, launcher] });
    try {
      await client.ensureRunning();
      expect(await client.isRunning()).toBe(true);
    } finally {
      client.close();
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
        } catch {}
      }
      t.cleanup();
    }
  });

  test.skipIf(process.getuid?.() !== 0)("another user's socket: PERMISSION_DENIED with DaemonClient's message (needs root to act as nobody)", async () => {
    // As `nobody`, the daemon's 0700 home cannot be entered: connect() fails with EACCES.
    const script = `
      import { blockingRoundTrip } from ${JSON.stringify(join(import.meta.dir, "../../src/client/blocking-socket.ts"))};
      import { DaemonClient } from ${JSON.stringify(join(import.meta.dir, "../../src/client/index.ts"))};
      const path = process.env.SOCK;
      for (const ask of [() => blockingRoundTrip(path, [{ case: "ping", value: {} }], 5000), () => new DaemonClient({ socketPath: path }).ping()]) {
        try { await ask(); console.log("answered"); } catch (e) { console.log(e.code + " " + e.message); }
      }`;
    const child = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, SOCK: d.socket, HOME: "/" }, cwd: "/", uid: 65534, gid: 65534, stdout: "pipe", stderr: "pipe" });
    const [ours, theirs] = (await new Response(child.stdout).text()).trim().split("\n");
    expect(ours).toStartWith(`${ErrorCode.PERMISSION_DENIED} cannot connect to ${d.socket}: permission denied`);
    expect(ours).toBe(theirs!);
  });

  test("a path too long for sockaddr_un is refused as DaemonClient refuses it", async () => {
    const path = `/tmp/${"x".repeat(200)}.sock`;
    const ours = await errorOf(() => blockingRoundTrip(path, [{ case: "ping", value: {} }], 1_000));
    const theirs = await errorOf(() => new DaemonClient({ socketPath: path }).ping());
    expect(ours.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(ours.message).toContain("a socket path may be at most 107 bytes, this one is 210");
    expect(ours.message).toBe(theirs.message);
  });

  test("a name that is no unix socket here (a Windows named pipe) is refused as DaemonClient refuses it", async () => {
    const ours = await errorOf(() => blockingRoundTrip("//./pipe/adi", [{ case: "ping", value: {} }], 1_000));
    const theirs = await errorOf(() => new DaemonClient({ socketPath: "//./pipe/adi" }).ping());
    expect(ours.code).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(ours.message).toBe(theirs.message);
  });
});
