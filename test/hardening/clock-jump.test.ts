import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { environOf, waitFor } from "../helpers/env.ts";
import { cleanupDaemons, newDaemon, servicesJson } from "../services/helpers.ts";

/*
 * The wall clock jumping (an NTP step, a suspended VM, an admin's `date -s`)
 * must move only the timestamps people read: backoff, stop timeouts and
 * uptime run on the monotonic clock. Changing the host's clock would disturb
 * every other process, so the daemon runs under libfaketime instead, with
 * the wall clock offset read from a file this test rewrites (FAKETIME_NO_CACHE:
 * on every call) and the monotonic clock left alone, as a real step leaves it.
 */

/** Debian's libfaketime (package faketime), the variant for programs with threads. */
const LIBFAKETIME = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu/faketime/libfaketimeMT.so.1`;
const skip =
  process.platform !== "linux" ? "needs Linux (libfaketime)" : !existsSync(LIBFAKETIME) ? `needs libfaketime (${LIBFAKETIME}: apt-get install faketime; .ci/run installs it)` : null;
if (skip) console.log(`SKIP test/hardening/clock-jump.test.ts: ${skip}`);

afterEach(cleanupDaemons);

const HOUR = 3600;

test.skipIf(skip !== null)("the wall clock jumping back and forth moves only timestamps: backoff, stop timeouts and uptime run on", async () => {
  const t0 = performance.now();
  const d = newDaemon();
  const clock = join(d.home, "..", "clock-offset"); // beside the home, in the directory cleanup removes
  /** Set the daemon's wall clock to real time plus `seconds`. */
  const jump = (seconds: number) => writeFileSync(clock, `${seconds >= 0 ? "+" : ""}${seconds}`);
  jump(0);
  Object.assign(d.env, { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: clock, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" });
  await d.start();
  expect(environOf(d.pid()!)).toContain(`FAKETIME_TIMESTAMP_FILE=${clock}`);

  const json = async (args: string[]) => {
    const r = await d.cli([...args, "--json"]);
    if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const info = async (name: string) => (await servicesJson(d)).find((s) => s.name === name)!;

  // 1. The daemon lives on the offset clock: an hour back, its next log line says so.
  expect((await d.cli(["daemon", "start", "sleeper", "--", "sleep", "1000"])).code).toBe(0);
  jump(-HOUR);
  expect((await d.cli(["daemon", "start", "marker", "--", "sleep", "1000"])).code).toBe(0);
  const client = d.client();
  const started = (await client.logs("marker", { lines: 10 }).finally(() => client.close())).find((l) => l.text.startsWith("started pid"))!;
  expect(Math.abs(started.timeUnixMs - (Date.now() - HOUR * 1000))).toBeLessThan(120_000);
  // An hour ahead of real time now (two past the marker's start): uptimes still count the seconds that
  // passed, for the daemon and for services started before the jumps. On the wall clock they would read hours.
  jump(HOUR);
  const elapsed = () => (performance.now() - t0) / 1000;
  expect((await json(["daemon", "status"])).uptime_secs).toBeLessThanOrEqual(elapsed() + 1);
  expect((await info("sleeper")).uptime_secs).toBeLessThanOrEqual(elapsed() + 1);
  expect((await info("marker")).uptime_secs).toBeLessThanOrEqual(elapsed() + 1);

  // 2. A crash loop keeps its backoff (0, 100, 200, 400, 800 ms) while the clock jumps a day ahead, then two back.
  const runs = join(d.home, "runs");
  jump(24 * HOUR);
  const loopStart = performance.now();
  expect((await d.cli(["daemon", "start", "crasher", "--max-restarts", "5", "--", "sh", "-c", `echo run >> ${runs}; exit 1`])).code).toBe(0);
  await Bun.sleep(300);
  jump(-24 * HOUR);
  await waitFor(async () => (await info("crasher"))?.state === "failed", 15_000, "the crash loop to end in FAILED");
  const loopSecs = (performance.now() - loopStart) / 1000;
  expect(readFileSync(runs, "utf8").split("\n").filter(Boolean).length).toBe(6); // the first run and 5 restarts
  // Not sooner than its delays allow (a deadline on the wall clock would have fired at once a day
  // ahead), and not stalled (one on the wall clock would wait a day after the jump back).
  expect(loopSecs).toBeGreaterThanOrEqual(1.4);
  expect((await info("crasher")).last_error).toContain("max restarts reached (5)");

  // 3. A stop timeout: a service that ignores TERM is killed after its 2 s, with the clock jumping during the wait.
  expect((await d.cli(["daemon", "start", "stubborn", "--stop-timeout", "2", "--", "sh", "-c", 'trap "" TERM; while :; do sleep 0.1; done'])).code).toBe(0);
  await waitFor(async () => (await info("stubborn"))?.state === "running", 5_000, "stubborn to run");
  const stopStart = performance.now();
  const stopping = d.cli(["daemon", "stop", "stubborn"]);
  // The jumps must fall inside the stop timeout: wait until the daemon is in it.
  await waitFor(async () => (await info("stubborn"))?.state === "stopping", 5_000, "stubborn to be stopping");
  jump(2 * 24 * HOUR);
  await Bun.sleep(500);
  jump(-2 * 24 * HOUR);
  expect((await stopping).code).toBe(0);
  const stopSecs = (performance.now() - stopStart) / 1000;
  expect(stopSecs).toBeGreaterThanOrEqual(1.9);
  expect(stopSecs).toBeLessThan(10);
  expect((await info("stubborn")).state).toBe("stopped");

  // The daemon answered throughout, and still does.
  expect((await json(["daemon", "status"])).running).toBe(true);
}, 60_000);
