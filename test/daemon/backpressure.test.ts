import { afterEach, expect, test } from "bun:test";
import type { Socket } from "bun";
import { readdirSync } from "node:fs";
import { decodeResponse, encodeRequestFrame } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { pidAlive, sleep, waitFor } from "../helpers/env.ts";
import { mb, rssBytes } from "../hardening/lib.ts";

// A client that pipelines requests and stops reading must cost the daemon a
// bounded amount of memory: the daemon stops reading its requests while much
// output waits for it, and reads on once it has drained. Before, every small
// answer waited as its own array entry (~200 bytes of memory per 18-byte pong)
// and 2M pings took the daemon's RSS up by ~300 MB.

const daemons: TestDaemon[] = [];
const sockets: Socket<undefined>[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.end();
  for (const d of daemons.splice(0)) await d.cleanup();
});

/** Counts the frames it reads (length headers only: 2M decoded responses would weigh on this process). */
class FrameCounter {
  frames = 0;
  first: Uint8Array | undefined;
  private header = new Uint8Array(4);
  private headerFill = 0;
  private bodyLeft = 0;
  private body: Uint8Array | undefined;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft === 0 && this.body === undefined) {
        this.header[this.headerFill++] = chunk[i++]!;
        if (this.headerFill < 4) continue;
        this.headerFill = 0;
        this.bodyLeft = new DataView(this.header.buffer).getUint32(0, true);
        // The first frame is kept whole, to check what it is.
        if (this.frames === 0) this.body = new Uint8Array(0);
        if (this.bodyLeft === 0) this.endFrame();
        continue;
      }
      const take = Math.min(this.bodyLeft, chunk.length - i);
      if (this.body) this.body = Buffer.concat([this.body, chunk.subarray(i, i + take)]);
      i += take;
      this.bodyLeft -= take;
      if (this.bodyLeft === 0) this.endFrame();
    }
  }

  private endFrame(): void {
    if (this.frames === 0) this.first = this.body;
    this.body = undefined;
    this.frames++;
  }
}

test("a client that pipelines 2M pings and never reads: the daemon stops reading it, its memory stays bounded, others are served; once it reads, every ping is answered", async () => {
  const PINGS = 2_000_000;
  // A short half-frame deadline: the daemon's last read before it paused most likely ended
  // mid-frame (9-byte pings do not divide its reads), and that stall is the daemon's, not
  // the client's: it must not be cut off for it.
  const d = new TestDaemon({ useSource: true, env: { ADI_READ_DEADLINE_MS: "500" } });
  daemons.push(d);
  await d.start();
  const pid = d.pid()!;
  const ping = encodeRequestFrame({ id: 200, kind: { case: "ping", value: {} } });
  expect(ping.length).toBe(9);
  const requests = new Uint8Array(ping.length * PINGS);
  for (let i = 0; i < PINGS; i++) requests.set(ping, i * ping.length);

  const counter = new FrameCounter();
  let sent = 0;
  let closed = false;
  const send = (s: Socket<undefined>) => {
    while (sent < requests.length) {
      const n = s.write(requests.subarray(sent, Math.min(requests.length, sent + 1024 * 1024)));
      if (n <= 0) return;
      sent += n;
    }
  };
  const socket = await Bun.connect({
    unix: d.socket,
    socket: {
      data: (_s, chunk) => counter.push(chunk),
      drain: send,
      close: () => void (closed = true),
      error: () => {},
    },
  });
  sockets.push(socket);
  // It never reads: what the daemon sends piles up in the kernel, then in the daemon.
  socket.pause();
  const rss0 = rssBytes(pid)!;
  send(socket);

  // Wait until the daemon has stopped taking requests (or, unbounded, has taken them all):
  // no progress for half a second.
  const until = Date.now() + 60_000;
  for (let last = -1; sent !== last && sent < requests.length && Date.now() < until; ) {
    last = sent;
    await sleep(500);
  }
  // Peak over 3 s: it includes the garbage of the requests read (some 40 MB here), which GC returns slowly.
  const samples: number[] = [];
  for (let i = 0; i < 12; i++) {
    samples.push(rssBytes(pid)!);
    await sleep(250);
  }
  const rss = Math.max(...samples);
  const growth = rss - rss0;
  console.log(
    `stalled reader: ${(sent / ping.length).toFixed(0)} of ${PINGS} pings taken while it did not read; ` +
      `daemon RSS ${mb(rss0)} MB before, then ${samples.map(mb).join(" ")} MB (+${mb(growth)} MB at the peak)`,
  );

  // Others are served meanwhile.
  const other = d.client({ timeoutMs: 5_000 });
  const t = performance.now();
  try {
    await other.ping();
  } finally {
    other.close();
  }
  expect(performance.now() - t).toBeLessThan(1_000);

  // Reading stopped (at 8 MiB of output, OUTPUT_HIGH_WATER_BYTES) and the daemon grew by some 50 MB;
  // the old daemon read all 2M pings and kept their answers, +300 MB.
  expect(sent).toBeLessThan(requests.length);
  expect(growth).toBeLessThan(100 * 1024 * 1024);
  expect(closed).toBe(false);
  expect(pidAlive(pid)).toBe(true);

  // It reads again: the daemon reads on, and every ping is answered.
  socket.resume();
  await waitFor(() => counter.frames >= PINGS || closed, 60_000, `${PINGS} pongs`);
  expect(closed).toBe(false);
  expect(sent).toBe(requests.length);
  expect(counter.frames).toBe(PINGS);
  expect(decodeResponse(counter.first!).kind.case).toBe("pong");
}, 120_000);

test("a client that goes away while its requests are left unread is noticed, and its connection freed", async () => {
  const d = new TestDaemon({ useSource: true });
  daemons.push(d);
  await d.start();
  const pid = d.pid()!;
  const descriptors = () => readdirSync(`/proc/${pid}/fd`).length;
  const ping = encodeRequestFrame({ id: 1, kind: { case: "ping", value: {} } });
  const requests = new Uint8Array(ping.length * 1_000_000);
  for (let i = 0; i < 1_000_000; i++) requests.set(ping, i * ping.length);
  const before = descriptors();
  let sent = 0;
  const send = (s: Socket<undefined>) => {
    while (sent < requests.length) {
      const n = s.write(requests.subarray(sent, Math.min(requests.length, sent + 1024 * 1024)));
      if (n <= 0) return;
      sent += n;
    }
  };
  const socket = await Bun.connect({ unix: d.socket, socket: { data() {}, drain: send, error() {} } });
  sockets.push(socket);
  socket.pause();
  send(socket);
  // The daemon stops reading it (a paused socket does not see the peer's end by reading)...
  for (let last = -1; sent !== last; ) {
    last = sent;
    await sleep(500);
  }
  expect(sent).toBeLessThan(requests.length);
  expect(descriptors()).toBe(before + 1);
  // ...but its writes fail once the peer is gone: the connection is closed.
  socket.end();
  await waitFor(() => descriptors() === before, 10_000, "the connection's descriptor to be closed");
  const client = d.client({ timeoutMs: 5_000 });
  try {
    await client.ping();
  } finally {
    client.close();
  }
}, 60_000);
