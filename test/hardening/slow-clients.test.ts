import { afterEach, expect, test } from "bun:test";
import { ErrorCode } from "../../src/errors.ts";
import { encodeRequestFrame } from "../../src/protocol/index.ts";
import { TestDaemon } from "../helpers/daemon.ts";
import { pidAlive, sleep, waitFor } from "../helpers/env.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { serviceProcesses } from "../services/helpers.ts";
import { mb, percentile, rssBytes } from "./lib.ts";

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    await d.cleanup();
    for (const pid of serviceProcesses(d)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
});

function newDaemon(env: Record<string, string>): TestDaemon {
  const d = new TestDaemon({ env });
  daemons.push(d);
  return d;
}

const PING = encodeRequestFrame({ id: 1, kind: { case: "ping", value: {} } });

test("200 connections that send half a frame and stall are closed after the read deadline; normal clients are served meanwhile", async () => {
  const DEADLINE_MS = 1_500;
  const d = newDaemon({ ADI_READ_DEADLINE_MS: String(DEADLINE_MS) });
  await d.start();
  const stalled = await Promise.all(Array.from({ length: 200 }, () => RawSocket.connect(d.socket)));
  const t0 = performance.now();
  for (const s of stalled) s.write(PING.subarray(0, 3 + (PING.length >> 1)));
  // While they stall, a normal client is answered.
  const client = d.client({ timeoutMs: 5_000 });
  const latencies: number[] = [];
  while (performance.now() - t0 < DEADLINE_MS * 0.8) {
    const t = performance.now();
    await client.ping();
    latencies.push(performance.now() - t);
    await sleep(20);
  }
  expect(stalled.filter((s) => s.closed).length).toBe(0);
  // All are cut off after the deadline (generous upper bound for a loaded box).
  const closed = await Promise.all(stalled.map((s) => s.waitClosed(DEADLINE_MS + 15_000)));
  const elapsed = performance.now() - t0;
  expect(closed.every(Boolean)).toBe(true);
  const deadlineErrors = stalled.filter((s) => s.responses.some((r) => r.kind.case === "error" && r.kind.value.code === ErrorCode.DEADLINE_EXCEEDED)).length;
  expect(deadlineErrors).toBe(200);
  const sorted = latencies.sort((a, b) => a - b);
  console.log(
    `slow clients: 200 stalled half-frames all closed ${(elapsed / 1000).toFixed(1)} s after they stalled (deadline ${DEADLINE_MS} ms), each told DEADLINE_EXCEEDED; ` +
      `a normal client meanwhile: ${latencies.length} pings, p50 ${percentile(sorted, 50).toFixed(2)} ms p99 ${percentile(sorted, 99).toFixed(2)} ms`,
  );
  await client.ping();
  client.close();
}, 60_000);

test("a client that keeps completing frames is never cut off, even when every write ends mid-frame", async () => {
  const DEADLINE_MS = 300;
  const d = newDaemon({ ADI_READ_DEADLINE_MS: String(DEADLINE_MS) });
  await d.start();
  const raw = await RawSocket.connect(d.socket);
  // Each write finishes the previous ping and starts the next: a frame is always pending.
  const half = PING.length >> 1;
  raw.write(PING.subarray(0, half));
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < DEADLINE_MS * 5) {
    raw.write(Buffer.concat([PING.subarray(half), PING.subarray(0, half)]));
    sent++;
    await sleep(DEADLINE_MS / 4);
  }
  expect(raw.closed).toBe(false);
  await waitFor(() => raw.responses.filter((r) => r.kind.case === "pong").length === sent, 5_000, `${sent} pongs`);
  // Once it stops half-way, the deadline applies again.
  expect(await raw.waitClosed(DEADLINE_MS + 15_000)).toBe(true);
}, 60_000);

test("the connection cap answers RESOURCE_EXHAUSTED; a freed slot is usable again", async () => {
  const CAP = 50;
  const d = newDaemon({ ADI_MAX_CONNECTIONS: String(CAP) });
  await d.start();
  const held = await Promise.all(Array.from({ length: CAP }, () => RawSocket.connect(d.socket)));
  // Each held connection is accepted: it answers a ping.
  for (const s of held) s.write(PING);
  await sleep(300);
  const extra = await RawSocket.connect(d.socket);
  extra.write(PING);
  expect(await extra.waitClosed(10_000)).toBe(true);
  const err = extra.responses.find((r) => r.kind.case === "error");
  expect(err?.kind.case === "error" && err.kind.value.code).toBe(ErrorCode.RESOURCE_EXHAUSTED);
  expect(err?.kind.case === "error" && err.kind.value.message).toMatch(/at most 50 connections/);
  expect(held.every((s) => !s.closed && s.responses.some((r) => r.kind.case === "pong"))).toBe(true);
  // Free one slot: the next client is served.
  held.pop()!.end();
  await sleep(300);
  const again = await RawSocket.connect(d.socket);
  again.write(PING);
  for (let i = 0; i < 100 && !again.responses.length; i++) await sleep(20);
  expect(again.responses[0]?.kind.case).toBe("pong");
  console.log(`connection cap: ${CAP} held, the ${CAP + 1}th answered RESOURCE_EXHAUSTED ("${err?.kind.case === "error" ? err.kind.value.message : ""}")`);
  for (const s of held) s.end();
  again.end();
}, 60_000);

test("a log follower that never reads is skipped or dropped; the daemon's memory does not grow with the flood", async () => {
  const d = newDaemon({});
  await d.start();
  const pid = d.pid()!;
  const c = d.client();
  // About 20 MB/s of log lines.
  await c.startService("flood", { command: "sh", args: ["-c", "yes 'flood flood flood flood flood flood flood flood flood flood flood flood flood'"] });
  // Followers that never read: their socket buffers fill, then the daemon must stop queueing for them.
  const stuck: { socket: import("bun").Socket<undefined> }[] = [];
  for (let i = 0; i < 5; i++) {
    const socket = await Bun.connect({ unix: d.socket, socket: { data() {}, error() {} } });
    socket.pause?.();
    socket.write(encodeRequestFrame({ id: 1, kind: { case: "serviceLogs", value: { name: "flood", lines: 0, follow: true } } }));
    stuck.push({ socket });
  }
  // Let buffers reach their high-water mark, then watch: memory must stay flat while the flood goes on.
  // RSS saws up and down with the flood's garbage (GC), so peaks are compared with peaks.
  await sleep(1_500);
  let rssA = 0;
  for (let i = 0; i < 6; i++) {
    await sleep(250);
    rssA = Math.max(rssA, rssBytes(pid)!);
  }
  const samples: number[] = [];
  for (let i = 0; i < 8; i++) {
    await sleep(1_000);
    samples.push(rssBytes(pid)!);
  }
  const rssB = Math.max(...samples);
  // The daemon still answers, the flood still runs.
  const t = performance.now();
  const list = await c.listServices();
  const pingMs = performance.now() - t;
  expect(list.find((s) => s.name === "flood")?.pid).toBeGreaterThan(0);
  expect(pidAlive(pid)).toBe(true);
  console.log(`stalled followers: 5 never-reading followers of a ~20 MB/s flood; daemon RSS peak over 1.5-3 s ${mb(rssA)} MB, then over 8 s: ${samples.map(mb).join(" ")} MB; list answered in ${pingMs.toFixed(1)} ms`);
  // Unbounded queueing would add the flood's rate per follower (5 x ~20 MB/s, some 800 MB in 8 s);
  // skipping caps each at 4 MiB queued. The bound leaves room for the flood's own GC swings.
  expect(rssB - rssA).toBeLessThan(80 * 1024 * 1024);
  await c.stopService("flood", { force: true });
  c.close();
  for (const s of stuck) s.socket.end();
}, 60_000);

test("a service flooding its log (`yes`) does not stall the daemon: requests are still answered in milliseconds", async () => {
  const d = newDaemon({});
  await d.start();
  const c = d.client();
  await c.startService("yes", { command: "sh", args: ["-c", "yes 'flood flood flood flood flood flood flood flood flood flood flood flood flood'"] });
  await sleep(1_000);
  const times: number[] = [];
  const until = performance.now() + 3_000;
  while (performance.now() < until) {
    const t = performance.now();
    await c.listServices();
    times.push(performance.now() - t);
    await sleep(20);
  }
  times.sort((a, b) => a - b);
  console.log(`log flood: ${times.length} list_services, median ${percentile(times, 50).toFixed(1)} ms, p99 ${percentile(times, 99).toFixed(1)} ms`);
  // A pipe that always has data let the reading loop run without ever returning to the event
  // loop: the median was 30–300 ms and some answers took over a second.
  expect(percentile(times, 50)).toBeLessThan(25);
  await c.stopService("yes", { force: true });
  c.close();
}, 60_000);
