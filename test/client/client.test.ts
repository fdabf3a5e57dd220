import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { AdiError, DaemonClient, ErrorCode } from "../../src/client/index.ts";
import { FrameDecoder, MAX_REQUEST_FRAME, decodeRequest, encodeResponseFrame } from "../../src/protocol/index.ts";
import { encodeRequest } from "../../src/gen/adi/daemon/v1/daemon_wire.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { recordTimeouts, tempHome, waitFor } from "../helpers/env.ts";
import { daemonsOf } from "../hardening/lib.ts";

/**
 * Run `body` with a client (`timeoutMs`) of a unix socket at a fresh path
 * whose server calls `data` (by default: never answers); both are closed and
 * the path removed afterwards, whatever happens.
 */
async function withFakeDaemon(timeoutMs: number, body: (client: DaemonClient) => Promise<void>, data: (socket: Socket<undefined>, chunk: Uint8Array) => void = () => {}) {
  const t = tempHome();
  const path = `${t.home}.sock`;
  const server = Bun.listen({ unix: path, socket: { data } });
  const client = new DaemonClient({ socketPath: path, timeoutMs });
  try {
    await body(client);
  } finally {
    client.close();
    server.stop(true);
    t.cleanup();
  }
}

async function rejection(p: Promise<unknown>): Promise<AdiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AdiError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

describe("client against a real daemon", () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = new TestDaemon();
    await d.start();
  });
  afterAll(() => d.cleanup());

  test("many requests in flight on one connection, each matched to its id", async () => {
    const client = d.client();
    const results = await Promise.all([
      ...Array.from({ length: 2000 }, () => client.ping()),
      client.status(),
      client.hello("test"),
    ]);
    expect(results.length).toBe(2002);
    const status = results[2000] as Awaited<ReturnType<DaemonClient["status"]>>;
    expect(status.pid).toBe(d.pid()!);
    const hello = results[2001] as Awaited<ReturnType<DaemonClient["hello"]>>;
    expect(hello.role).toBe("admin");
    expect(hello.peerPid).toBe(process.pid);
    client.close();
  });

  test("a request over the daemon's 1 MiB limit is refused before it is sent; the connection and the requests beside it carry on", async () => {
    const client = d.client();
    const outcome = (p: Promise<unknown>) =>
      p.then(
        () => "answered",
        (e: AdiError) => `${ErrorCode[e.code]}: ${e.message}`,
      );
    // A run request whose body (the frame without its 4-byte header) is `bytes` long: the fields around
    // the argument, measured at this size (the varints' widths are the same up to 2 MiB; ids stay below 128).
    const around = (n: number) => encodeRequest({ id: 1, kind: { case: "run", value: { command: "echo", args: ["x".repeat(n)] } } }).length - n;
    const runOf = (bytes: number) => client.run("echo", ["x".repeat(bytes - around(MAX_REQUEST_FRAME - 100))]);
    try {
      await client.ping(); // the connection is open
      // Sent in one turn: had the big one gone out, the daemon would close the connection and
      // the ping after it would fail with UNAVAILABLE.
      const [beside, big, after] = await Promise.all([outcome(client.status()), outcome(runOf(MAX_REQUEST_FRAME + 1)), outcome(client.ping())]);
      expect(big).toBe("INVALID_ARGUMENT: cannot send run: the request is 1048577 bytes, over the daemon's limit of 1048576");
      expect([beside, after]).toEqual(["answered", "answered"]);
      // At the limit it goes out: the kernel refuses the 1 MiB argument (E2BIG), not the daemon the frame.
      expect(await outcome(runOf(MAX_REQUEST_FRAME))).toMatch(/^INVALID_ARGUMENT: cannot run \S*echo: .*E2BIG/);
    } finally {
      client.close();
    }
  });

  test("isRunning is true, ensureRunning is a no-op", async () => {
    const client = d.client();
    expect(await client.isRunning()).toBe(true);
    const pid = d.pid();
    await client.ensureRunning();
    expect(d.pid()).toBe(pid);
    client.close();
  });
});

describe("client failure modes", () => {
  test("no daemon: UNAVAILABLE telling the user how to start it", async () => {
    const t = tempHome();
    const client = new DaemonClient({ socketPath: join(t.home, "nope.sock") });
    const err = await rejection(client.ping());
    expect(err.code).toBe(ErrorCode.UNAVAILABLE);
    expect(err.message).toContain("adi daemon start");
    expect(await client.isRunning()).toBe(false);
    t.cleanup();
  });

  test("a request times out with DEADLINE_EXCEEDED", async () => {
    const t = tempHome();
    const path = `${t.home}.sock`;
    const server = Bun.listen({ unix: path, socket: { data() {} } }); // never answers
    const client = new DaemonClient({ socketPath: path, timeoutMs: 100 });
    const started = performance.now();
    const err = await rejection(client.ping());
    expect(err.code).toBe(ErrorCode.DEADLINE_EXCEEDED);
    expect(performance.now() - started).toBeLessThan(2_000);
    client.close();
    server.stop(true);
    t.cleanup();
  });

  test("each request keeps its own deadline: a shorter one sent later still fires first, and a later one still fires", async () => {
    await withFakeDaemon(200, async (client) => {
      const started = performance.now();
      const settled: Record<string, { at: number; error: AdiError }> = {};
      const track = (name: string, p: Promise<unknown>) =>
        rejection(p).then((error) => {
          settled[name] = { at: performance.now() - started, error };
        });
      // `run` waits for its command's timeout + 5 s (here 5 s): its deadline is armed first.
      const run = track("run", client.run("true", [], { timeoutMs: 1 }));
      const first = track("first", client.ping());
      await Bun.sleep(100);
      const second = track("second", client.ping());
      await Promise.race([Promise.all([first, second]), Bun.sleep(3_000)]); // bounded: a deadline that never fires fails here
      expect(settled.first!.error.code).toBe(ErrorCode.DEADLINE_EXCEEDED);
      expect(settled.first!.error.message).toBe("the daemon did not answer ping within 200 ms");
      expect(settled.second!.error.code).toBe(ErrorCode.DEADLINE_EXCEEDED);
      // No deadline fires early, and the second ping's was armed after the first fired.
      expect(settled.first!.at).toBeGreaterThanOrEqual(195);
      expect(settled.second!.at).toBeGreaterThanOrEqual(settled.first!.at);
      expect(settled.second!.at).toBeGreaterThanOrEqual(295);
      expect(settled.run).toBeUndefined(); // still waiting: its deadline is 5 s away
      client.close(); // ends it (the connection is gone), not its deadline
      await run;
      expect(settled.run!.error.code).not.toBe(ErrorCode.DEADLINE_EXCEEDED);
      expect(settled.run!.at).toBeLessThan(5_000);
    });
  });

  test("a timeout past setTimeout's 32-bit range waits, rather than failing (or spinning) after 1 ms", async () => {
    await withFakeDaemon(3e9, async (client) => {
      const timeouts = recordTimeouts();
      let settled = false;
      let ping: Promise<AdiError>;
      try {
        ping = rejection(client.ping()).finally(() => (settled = true));
        await Bun.sleep(200);
      } finally {
        timeouts.restore();
      }
      expect(settled).toBe(false);
      expect(timeouts.delays.filter((ms) => ms > 1_000)).toEqual([2 ** 31 - 1]); // armed once, for as long as a timer can wait
      client.close();
      expect((await ping).code).not.toBe(ErrorCode.DEADLINE_EXCEEDED);
    });
  });

  test("a request the wire cannot carry is refused with INVALID_ARGUMENT, and nothing is left waiting", async () => {
    await withFakeDaemon(100, async (client) => {
      const timeouts = recordTimeouts();
      let err: AdiError;
      try {
        err = await rejection(client.run("true", [], { timeoutMs: 2 ** 33 }));
      } finally {
        timeouts.restore();
      }
      // Not pending: no deadline was armed for it (a pending one would arm a timer of 2^31 - 1 ms).
      expect(timeouts.delays.filter((ms) => ms > 10_000)).toEqual([]);
      expect(err.code).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(err.message).toContain("cannot send run");
      // The connection is fine: the next request is sent and times out as usual (the server never answers).
      expect((await rejection(client.ping())).code).toBe(ErrorCode.DEADLINE_EXCEEDED);
    });
  });

  test("an answered request never fails later when its deadline passes", async () => {
    // Answers the first request (a pong with its id), ignores the rest.
    let answered = false;
    const answerFirst = (socket: Socket<undefined>, chunk: Uint8Array) => {
      if (answered) return;
      answered = true;
      const id = decodeRequest(new FrameDecoder(MAX_REQUEST_FRAME).push(chunk)[0]!).id;
      socket.write(encodeResponseFrame({ id, kind: { case: "pong", value: { uptimeSecs: 1, version: "test" } } }));
    };
    await withFakeDaemon(150, async (client) => {
      const pong = await client.ping();
      expect(pong.version).toBe("test");
      // The answered ping's deadline passes while a second request waits: the second fails at its own deadline.
      await Bun.sleep(60);
      const sent = performance.now();
      const err = await Promise.race([rejection(client.ping()), Bun.sleep(3_000).then(() => null)]);
      expect(err?.code).toBe(ErrorCode.DEADLINE_EXCEEDED);
      expect(performance.now() - sent).toBeGreaterThanOrEqual(145);
    }, answerFirst);
  });

  test("a dropped connection rejects every pending request with UNAVAILABLE", async () => {
    const t = tempHome();
    const path = `${t.home}.sock`;
    let received = 0;
    const server = Bun.listen({
      unix: path,
      socket: {
        data(socket, chunk) {
          received += new FrameDecoder(MAX_REQUEST_FRAME).push(chunk).length;
          if (received >= 3) socket.end();
        },
      },
    });
    const client = new DaemonClient({ socketPath: path, timeoutMs: 5_000 });
    const errors = await Promise.all([client.ping(), client.ping(), client.ping()].map(rejection));
    for (const e of errors) expect(e.code).toBe(ErrorCode.UNAVAILABLE);
    server.stop(true);
    try {
      unlinkSync(path);
    } catch {}
    t.cleanup();
  });

  test("ensureRunning from many clients at once starts exactly one daemon", async () => {
    const d = new TestDaemon();
    try {
      const clients = Array.from({ length: 6 }, () => d.client());
      await Promise.all(clients.map((c) => c.ensureRunning()));
      const pids = await Promise.all(clients.map((c) => c.status().then((s) => s.pid)));
      expect(new Set(pids).size).toBe(1);
      await waitFor(() => d.pid() === pids[0], 2_000, "pid file");
      for (const c of clients) c.close();
      // Each client may have spawned a daemon; the losers exit once they see the winner answer.
      // One still starting when the winner is stopped would take over: wait for them first.
      if (process.platform === "linux") await waitFor(() => daemonsOf(d.home).length === 1, 5_000, "losing daemons to exit");
    } finally {
      await d.cleanup();
    }
  });
});
