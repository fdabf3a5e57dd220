import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestDaemon } from "../helpers/daemon.ts";
import { waitFor } from "../helpers/env.ts";
import { Running, adiArgv } from "./helpers.ts";

const d = new TestDaemon();
const LONG = "a-service-with-a-rather-long-name";
beforeAll(async () => {
  await d.start();
  // `ticker` prints forever; LONG prints two lines, one on stderr, and stays up.
  expect((await d.cli(["daemon", "start", "ticker", "--", "sh", "-c", "i=0; while true; i=$((i+1)); do echo tick $i; sleep 0.2; done"])).code).toBe(0);
  expect((await d.cli(["daemon", "start", LONG, "--", "sh", "-c", "echo hello; echo oops >&2; exec sleep 600"])).code).toBe(0);
  // The tests below count on a few lines of each being there already.
  const client = d.client();
  try {
    await waitFor(async () => (await client.logs("ticker", { lines: 10 })).length >= 6 && (await client.logs(LONG, { lines: 10 })).length >= 3, 60_000, "first log lines");
  } finally {
    client.close();
  }
}, 120_000);
afterAll(() => d.cleanup(), 120_000);

/** `<ISO time> <name padded> <stream> <text>` */
const LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z (\S+) +(out|err|adi) (.*)$/;

describe("adi daemon logs", () => {
  test("several services: merged by time, each line prefixed with its service (padded) and stream", async () => {
    const r = await d.cli(["daemon", "logs", "ticker", LONG, "-n", "3"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.length).toBe(6);
    for (const line of lines) expect(line).toMatch(LINE);
    // The name column is padded to the longest name: the stream column lines up.
    const streamCol = 24 + 1 + LONG.length + 1;
    for (const line of lines) expect(["out ", "err ", "adi "]).toContain(line.slice(streamCol, streamCol + 4));
    const times = lines.map((l) => Date.parse(l.slice(0, 24)));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(r.stdout).toContain(`${LONG} err oops`);
    expect(r.stdout).toMatch(/ticker {2,}out tick \d+/);
    expect(r.stdout).not.toContain("\x1b[");
  }, 120_000);

  test("--json is one JSON array (an object a line); --since filters by time; bad values are usage errors", async () => {
    const r = await d.cli(["daemon", "logs", "--all", "--json", "-n", "5"]);
    expect(r.code).toBe(0);
    const objs = JSON.parse(r.stdout);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(objs.length); // still an object a line, for grep
    expect(objs.length).toBe(5 + 3); // LONG has written three lines: adi started, hello, oops
    for (const o of objs) {
      expect(Object.keys(o).sort()).toEqual(["service", "stream", "text", "time"]);
      expect(["ticker", LONG]).toContain(o.service);
    }
    const future = await d.cli(["daemon", "logs", "ticker", "--since", "2999-01-01T00:00:00Z"]);
    expect(future.code).toBe(0);
    expect(future.stdout).toBe("");
    const recent = await d.cli(["daemon", "logs", "ticker", "--since", "1h", "--json"]);
    const all = JSON.parse(recent.stdout);
    expect(all.length).toBeGreaterThan(3);
    const cutoff = all[all.length - 3].time;
    const since = await d.cli(["daemon", "logs", "ticker", "--since", cutoff, "--json"]);
    const kept = JSON.parse(since.stdout);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    for (const o of kept) expect(Date.parse(o.time)).toBeGreaterThanOrEqual(Date.parse(cutoff));

    // `-n=2` as `--lines=2` and `-n 2` (citty hands it over as "=2").
    const eq = await d.cli(["daemon", "logs", "ticker", "-n=2", "--json"]);
    expect({ code: eq.code, stderr: eq.stderr }).toEqual({ code: 0, stderr: "" });
    expect(JSON.parse(eq.stdout)).toHaveLength(2);
    const bad = await d.cli(["daemon", "logs", "ticker", "--since", "yesterday"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--since expects a duration");
    const none = await d.cli(["daemon", "logs"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--all");
    const unknown = await d.cli(["daemon", "logs", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no service named nope");
  }, 120_000);

  test("a tail larger than one write block comes out whole and in order; into `| head` it ends quietly", async () => {
    // 900 lines (the ring keeps 1,000) of ≈ 200 characters as printed: ≈ 180 KB, several of showLogs' 64 KiB blocks.
    const script = `i=0; while [ $i -lt 900 ]; do echo "numbered line $i ${".".repeat(150)}"; i=$((i+1)); done; exec sleep 600`;
    expect((await d.cli(["daemon", "start", "big", "--", "sh", "-c", script])).code).toBe(0);
    const client = d.client();
    try {
      await waitFor(async () => (await client.logs("big", { lines: 1000 })).length >= 901, 60_000, "900 lines of big");
    } finally {
      client.close();
    }
    const r = await d.cli(["daemon", "logs", "big", "-n", "900"]);
    expect(r.code).toBe(0);
    const numbers = r.stdout.trimEnd().split("\n").map((l) => Number(/numbered line (\d+) /.exec(l)?.[1]));
    expect(r.stdout.length).toBeGreaterThan(150_000);
    expect(numbers).toEqual(Array.from({ length: 900 }, (_, i) => i));
    const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
    const cmd = `${[...adiArgv(), "daemon", "logs", "big", "-n", "900"].map(quote).join(" ")} | head -n 1; echo "adi exit $?"`;
    const proc = Bun.spawn(["bash", "-c", `set -o pipefail; ${cmd}`], { env: d.env, stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stdout).text()).toMatch(/numbered line 0 [.]+\nadi exit 0\n$/);
  }, 120_000);

  test("with no daemon running, `logs NAME` starts one (as `services` does), then says what it does not know", async () => {
    const fresh = new TestDaemon();
    try {
      const r = await fresh.cli(["daemon", "logs", "web"]);
      expect(r).toMatchObject({ code: 1, stdout: "" });
      expect(r.stderr).toContain("no service named web");
      expect(fresh.pid()).not.toBeNull();
      expect((await fresh.cli(["daemon", "status"])).code).toBe(0);
    } finally {
      await fresh.cleanup();
    }
  }, 120_000);

  test("-f into a reader that goes away (| head) ends instead of following forever", async () => {
    const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
    const cmd = `${[...adiArgv(), "daemon", "logs", "ticker", "-f", "-n", "1"].map(quote).join(" ")} | head -n 3; echo "adi exit $?"`;
    const proc = Bun.spawn(["bash", "-c", `set -o pipefail; ${cmd}`], { env: d.env, stdout: "pipe", stderr: "pipe" });
    const code = await Promise.race([proc.exited, Bun.sleep(60_000).then(() => null)]);
    if (code === null) proc.kill("SIGKILL");
    expect(code).toBe(0);
    const out = await new Response(proc.stdout).text();
    expect(out).toMatch(/ticker out tick/);
    expect(out).toContain("adi exit 0");
  }, 120_000);

  test("--all -f follows every service, marks a restart with a separator, picks up new services, ends when the daemon stops", async () => {
    const follow = new Running(d, ["daemon", "logs", "--all", "-f", "-n", "1"]);
    try {
      await follow.waitLine((l) => /ticker +out tick/.test(l), "a ticker line");
      const from = follow.lines.length;
      await follow.waitLine((l) => /ticker +out tick/.test(l), "a live ticker line", from);
      expect((await d.cli(["daemon", "restart", "ticker"])).code).toBe(0);
      const sep = await follow.waitLine((l) => /^──── ticker restarted \(pid \d+\) ────$/.test(l), "the restart separator");
      expect(follow.lines[sep + 1]).toMatch(/ticker +adi started pid \d+/);
      await follow.waitLine((l) => /ticker +out tick 1$/.test(l), "the new generation's first line", sep);
      expect((await d.cli(["daemon", "start", "late", "--", "sh", "-c", "echo late arrival; exec sleep 600"])).code).toBe(0);
      await follow.waitLine((l) => /late +out late arrival/.test(l), "a service started after the follow began");
      // No line is printed twice (the backlog and the stream overlap is dropped).
      const ticks = follow.lines.filter((l) => /ticker +out tick/.test(l));
      expect(new Set(ticks).size).toBe(ticks.length);
      expect((await d.cli(["daemon", "stop"])).code).toBe(0);
      expect(await follow.exited()).toBe(0);
      expect(follow.stderr).toContain("adi daemon stopped");
      expect(follow.lines.join("\n")).not.toContain("\x1b[");
    } finally {
      follow.stop();
    }
  }, 120_000);
});
