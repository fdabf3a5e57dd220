import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { LogStream, ServiceState, type LogLine } from "../../src/gen/adi/daemon/v1/daemon_pb.ts";
import { FrameDecoder, MAX_RESPONSE_FRAME, decodeResponse, encodeRequestFrame } from "../../src/protocol/index.ts";
import { BUN, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, waitForState } from "./helpers.ts";

afterEach(cleanupDaemons);

const CHATTY = join(import.meta.dir, "fixtures", "chatty.ts");

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

describe("service logs", () => {
  test("100k lines/s for 3 s: the service is never blocked, a follower sees every line in order, memory stays bounded, the file rotates", async () => {
    const cap = 1024 * 1024;
    const d = newDaemon({ daemonToml: `[service_logs]\nmax_bytes = ${cap}\nfiles = 3\n` });
    await d.start();
    const daemonPid = d.pid()!;
    const go = join(d.home, "go");
    const report = join(d.home, "report");
    const r = await d.cli(["daemon", "start", "chatty", "--no-restart", "--", BUN, CHATTY, go, report, "100000", "3"]);
    expect(r.code).toBe(0);
    await waitForState(d, "chatty", ServiceState.RUNNING);

    // A follower that never reads (its socket is paused) must not slow anyone down.
    const stalled = connect(d.socket);
    const stalledChunks: Buffer[] = [];
    stalled.on("data", (chunk: Buffer) => stalledChunks.push(chunk));
    await new Promise<void>((resolve) => stalled.once("connect", () => resolve()));
    stalled.write(encodeRequestFrame({ id: 7, kind: { case: "serviceLogs", value: { name: "chatty", follow: true } } }));
    stalled.pause();

    // Two live followers on two connections, under different request ids: each must see every line in order.
    const clients = [d.client(), d.client()];
    await clients[1]!.ping(); // its follow gets request id 2, the other's 1
    const followers = await Promise.all(
      clients.map(async (client) => {
        const stream = client.logs("chatty", { lines: 1, follow: true });
        const seen = { expected: 0, outOfOrder: "", sawDone: false };
        const first = await stream.next(); // the backlog: the follower is registered
        expect(first.done).toBe(false);
        const following = (async () => {
          for await (const line of stream as AsyncIterable<LogLine>) {
            if (line.stream !== LogStream.STDOUT) continue;
            if (line.text === "done") {
              seen.sawDone = true;
              break;
            }
            if (line.text !== `line ${seen.expected}` && !seen.outOfOrder) seen.outOfOrder = `expected line ${seen.expected}, got ${line.text}`;
            seen.expected++;
          }
        })();
        return { seen, following };
      }),
    );

    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssKiB(daemonPid))), 100);
    const baseRss = rssKiB(daemonPid);
    writeFileSync(go, "");
    try {
      await waitFor(() => existsSync(report), 15_000, "the chatty service to finish");
      await Promise.race([Promise.all(followers.map((f) => f.following)), Bun.sleep(15_000)]);
    } finally {
      clearInterval(sampler);
      for (const client of clients) client.close();
    }
    const ranMs = Number(readFileSync(report, "utf8"));
    expect(ranMs).toBeLessThan(4_000); // 3 s of output, not slowed down by the pipe or the followers
    for (const { seen } of followers) expect(seen).toEqual({ expected: 300_000, outOfOrder: "", sawDone: true });
    if (process.env.ADI_TEST_VERBOSE) console.log({ ranMs, baseRss, peakRss });
    expect(peakRss - baseRss).toBeLessThan(100 * 1024);

    // Rotation: the current file and two older ones, none over the cap.
    const log = join(d.home, "logs", "services", "chatty.log");
    for (const file of [log, `${log}.1`, `${log}.2`]) {
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).size).toBeLessThanOrEqual(cap);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    expect(existsSync(`${log}.3`)).toBe(false);
    expect(readFileSync(log, "utf8")).toMatch(/Z out done\n/);

    // The stalled follower, once it reads, learns how many lines it missed and sees the end.
    stalled.resume();
    const decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
    const texts: string[] = [];
    await waitFor(() => {
      for (const chunk of stalledChunks.splice(0)) {
        for (const frame of decoder.push(chunk)) {
          const kind = decodeResponse(frame).kind;
          if (kind.case === "logLine") texts.push(kind.value.text);
          else if (kind.case === "logs") for (const l of kind.value.lines) texts.push(l.text);
        }
      }
      return texts.some((t) => /^… \d+ lines skipped: reader too slow$/.test(t));
    }, 10_000, "the stalled follower to catch up and get the marker");
    stalled.destroy();
    const skipped = Number(/^… (\d+) lines/.exec(texts.find((t) => t.startsWith("…"))!)![1]);
    // What it got plus what it was told it missed is everything: 300k lines, "done", and the exit note.
    expect(texts.filter((t) => !t.startsWith("…")).length + skipped).toBe(300_002);
  }, 60_000);

  test("logs -n shows recent lines tagged by stream; long lines are split; follow ends when the client cancels", async () => {
    const d = newDaemon();
    await d.start();
    const script = 'echo one; echo two >&2; head -c 40000 /dev/zero | tr "\\0" x; echo; echo three; sleep 1000';
    await d.cli(["daemon", "start", "talker", "--", "sh", "-c", script]);
    await waitForState(d, "talker", ServiceState.RUNNING);
    await waitFor(async () => (await d.cli(["daemon", "logs", "talker", "--json"])).stdout.includes('"three"'), 3_000, "output");
    const r = await d.cli(["daemon", "logs", "talker", "-n", "100", "--json"]);
    const lines = JSON.parse(r.stdout);
    expect(lines[0].stream).toBe("adi");
    expect(lines[0].text).toStartWith("started pid");
    const texts = lines.slice(1).map((l: { stream: string; text: string }) => `${l.stream}:${l.text.startsWith("xxx") ? `x*${l.text.length}` : l.text}`);
    // 40000 characters: cut at 16 Ki characters, never buffered without bound. Each stream keeps
    // its order; across the two pipes the order is the order they were read in, which need not be
    // the order they were written in (here "two" came before or after the first pieces of the
    // long line, in 3–6 of 15 runs on a 2-core machine, with the lines merged by time or not).
    expect(texts.filter((t: string) => t.startsWith("out:"))).toEqual(["out:one", "out:x*16384", "out:x*16384", "out:x*7232", "out:three"]);
    expect(texts.filter((t: string) => !t.startsWith("out:"))).toEqual(["err:two"]);
    const two = await d.cli(["daemon", "logs", "talker", "-n", "2"]);
    expect(two.stdout.trim().split("\n")).toHaveLength(2);
    expect(two.stdout).toMatch(/out three/);

    const client = d.client();
    const seen: string[] = [];
    for await (const line of client.logs("talker", { lines: 3, follow: true })) {
      seen.push(line.text);
      if (seen.length === 3) break; // leaving the loop cancels the stream
    }
    // The backlog is the ring's last three lines: the listing's (the two pipes may have been read in either order).
    expect(seen).toEqual(lines.slice(-3).map((l: { text: string }) => l.text));
    expect(seen).toContain("three");
    expect(await client.ping()).toBeDefined(); // the connection still serves after the cancel
    client.close();
  });

  test("logs -n of long multi-byte lines: cut at 16 KiB between characters, and the whole ring answers in one frame", async () => {
    const d = newDaemon();
    await d.start();
    // 1000 lines of 16 Ki three-byte characters: ≈ 48 MB of UTF-8, three times a frame.
    const script = 'const l = "語".repeat(16384) + "\\n"; for (let i = 0; i < 1000; i++) process.stdout.write(l); process.stdout.write("end\\n"); await Bun.sleep(1e9);';
    await d.cli(["daemon", "start", "wide", "--", BUN, "-e", script]);
    const client = d.client();
    try {
      await waitFor(async () => (await client.logs("wide", { lines: 1 }))[0]?.text === "end", 30_000, "the last line");
    } finally {
      client.close();
    }
    const r = await d.cli(["daemon", "logs", "wide", "-n", "1001", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = JSON.parse(r.stdout) as { text: string }[];
    expect(lines).toHaveLength(1000); // the ring's size
    expect(lines.every((l) => Buffer.byteLength(l.text) <= 16 * 1024)).toBe(true);
    expect(lines.reduce((n, l) => n + Buffer.byteLength(l.text), 0)).toBeLessThanOrEqual(MAX_RESPONSE_FRAME);
    // Each 16 Ki-character line became three pieces of 5461 characters (16,383 bytes) and one of 1.
    expect(lines.at(-1)!.text).toBe("end");
    expect(lines.slice(-5, -1).map((l) => l.text)).toEqual(["語".repeat(5461), "語".repeat(5461), "語".repeat(5461), "語"]);
  }, 60_000);

  test("a log file that cannot be opened (a planted symlink) is never followed: the service runs, lines stay in memory, status warns", async () => {
    const d = newDaemon();
    const dir = join(d.home, "logs", "services");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const target = join(d.home, "target");
    writeFileSync(target, "untouched\n");
    symlinkSync(target, join(dir, "evil.log"));
    await d.start();
    expect((await d.cli(["daemon", "start", "evil", "--", "sh", "-c", "echo hello; sleep 1000"])).code).toBe(0);
    await waitForState(d, "evil", ServiceState.RUNNING);
    await waitFor(async () => (await d.cli(["daemon", "logs", "evil"])).stdout.includes("out hello"), 3_000, "the line in memory");
    expect(readFileSync(target, "utf8")).toBe("untouched\n");
    const status = JSON.parse((await d.cli(["daemon", "status", "--json"])).stdout);
    expect(status.warnings.join("\n")).toContain(`service log ${join(dir, "evil.log")} is not writable`);
  });
});
