import { expect, test } from "bun:test";
import { closeSync, constants, mkdirSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { DaemonClient } from "../../src/client/index.ts";
import { ADI_BIN, pidAlive, sleep, tempHome, waitFor } from "../helpers/env.ts";

// `adi daemon run` wrote its log lines to stderr synchronously: a reader that stopped reading (a paused
// pager, a stuck journald) stalled the whole daemon once the pipe was full. On a pipe or socket its
// stderr is now non-blocking: lines that do not fit are dropped and counted, the daemon keeps serving.
test.skipIf(process.platform !== "linux")("a foreground daemon whose stderr nobody reads keeps answering, and says how many log lines it dropped", async () => {
  const t = tempHome();
  mkdirSync(t.home, { recursive: true, mode: 0o700 });
  // A FIFO this test holds open and does not read (Bun would read a spawn's "pipe" for us).
  const fifo = join(t.home, "stderr.fifo");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const held = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const proc = Bun.spawn(["sh", "-c", 'exec "$0" daemon run 2>"$1"', ADI_BIN, fifo], { env: t.env, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const socket = join(t.home, "daemon.sock");
  const client = new DaemonClient({ socketPath: socket, timeoutMs: 5_000 });
  try {
    await waitFor(() => client.isRunning().catch(() => false), 10_000, "the daemon to answer");
    // Each malformed frame is a warning line of ≈ 150 bytes: 1,500 of them are several times a pipe's 64 KiB.
    const bad = new Uint8Array([5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]);
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const s = await Bun.connect({ unix: socket, socket: { data() {}, error() {} } });
          s.write(bad);
          await sleep(20);
          s.end();
        }),
      );
    }
    const t0 = performance.now();
    await client.ping();
    expect(performance.now() - t0).toBeLessThan(4_000);
    // Reading again: the next line that fits is preceded by the count of those that did not.
    let text = "";
    const buf = Buffer.alloc(1 << 20);
    const drain = () => {
      for (;;) {
        let n = 0;
        try {
          n = readSync(held, buf, 0, buf.length, null);
        } catch {}
        if (n <= 0) return;
        text += buf.toString("utf8", 0, n);
      }
    };
    drain();
    const s = await Bun.connect({ unix: socket, socket: { data() {}, error() {} } });
    s.write(bad);
    await waitFor(() => (drain(), /… \d+ log lines dropped: stderr was not taking them/.test(text)), 10_000, "the dropped-lines note");
    s.end();
    // Every note counts the lines dropped since the last line that fitted: a short line that fitted a
    // nearly full pipe mid-flood told a small count first (a CI run read "1"), so they are summed.
    const dropped = [...text.matchAll(/… (\d+) log lines dropped/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(dropped).toBeGreaterThan(100);
    proc.kill("SIGTERM");
    await proc.exited;
  } finally {
    client.close();
    if (pidAlive(proc.pid)) proc.kill("SIGKILL");
    await proc.exited;
    closeSync(held);
    t.cleanup();
  }
}, 60_000);
