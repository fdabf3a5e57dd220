import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestDaemon } from "../helpers/daemon.ts";
import { Running } from "./helpers.ts";

const d = new TestDaemon();
beforeAll(() => d.start(), 120_000);
afterAll(() => d.cleanup(), 120_000);

type Event = { time: string; service: string; kind: string; state: string; pid: number | null; exit_code: number | null; signal: string | null; restart_in_ms: number | null; message: string | null };

describe("adi daemon events", () => {
  test("--json streams started, exited, restarting, failed and stopped with their fields, and ends when the daemon stops", async () => {
    const watch = new Running(d, ["daemon", "events", "--json"]);
    const human = new Running(d, ["daemon", "events"]);
    try {
      // Both streams are registered once they see a first event; start a marker service until they do.
      expect((await d.cli(["daemon", "start", "marker", "--", "sleep", "60"])).code).toBe(0);
      const seen = () => watch.lines.some((l) => l.includes('"marker"')) && human.lines.some((l) => l.includes("marker started"));
      for (let i = 0; i < 40 && !seen(); i++) {
        await Bun.sleep(250);
        if (!seen()) expect((await d.cli(["daemon", "restart", "marker"])).code).toBe(0);
      }
      await watch.waitLine((l) => l.includes('"marker"'), "marker started (json)");
      await human.waitLine((l) => l.includes("marker started"), "marker started (human)");

      expect((await d.cli(["daemon", "start", "crash", "--max-restarts", "1", "--", "sh", "-c", "exit 3"])).code).toBe(0);
      await watch.waitLine((l) => l.includes('"failed"'), "crash failed");
      expect((await d.cli(["daemon", "start", "killed", "--", "sh", "-c", "kill -9 $$"])).code).toBe(0);
      await watch.waitLine((l) => l.includes('"killed"') && l.includes('"restarting"'), "killed restarting");
      expect((await d.cli(["daemon", "stop", "killed"])).code).toBe(0);
      expect((await d.cli(["daemon", "start", "clean", "--no-restart", "--", "sh", "-c", "exit 0"])).code).toBe(0);
      await watch.waitLine((l) => l.includes('"clean"') && l.includes('"stopped"'), "clean stopped");
      const before = watch.lines.length;
      expect((await d.cli(["daemon", "stop", "marker"])).code).toBe(0);
      await watch.waitLine((l) => l.includes('"marker"') && l.includes('"stopped"'), "marker stopped", before);

      const events = watch.lines.map((l) => JSON.parse(l) as Event);
      const crash = events.filter((e) => e.service === "crash");
      expect(crash.map((e) => e.kind)).toEqual(["started", "exited", "restarting", "started", "exited", "failed"]);
      expect(crash[0]!.pid).toBeGreaterThan(0);
      expect(crash[0]!.state).toBe("running");
      expect(crash[1]!.exit_code).toBe(3);
      expect(crash[1]!.signal).toBeNull();
      expect(typeof crash[2]!.restart_in_ms).toBe("number");
      expect(crash[2]!.state).toBe("backoff");
      expect(crash[5]!.state).toBe("failed");
      expect(crash[5]!.message).toContain("max restarts");
      const killed = events.find((e) => e.service === "killed" && e.kind === "exited")!;
      expect(killed.signal).toBe("SIGKILL");
      expect(killed.exit_code).toBeNull();
      // Stopping a service in BACKOFF or RUNNING both end in a stopped event.
      expect(events.some((e) => e.service === "killed" && e.kind === "stopped")).toBe(true);
      // A clean exit's stopped event carries the generation's pid and exit code, as a stop's does.
      const clean = events.filter((e) => e.service === "clean");
      expect(clean.map((e) => e.kind)).toEqual(["started", "exited", "stopped"]);
      expect(clean[2]).toMatchObject({ pid: clean[0]!.pid, exit_code: 0, signal: null });
      const stopped = events.findLast((e) => e.service === "marker" && e.kind === "stopped")!;
      expect(stopped.signal).toBe("SIGTERM");
      expect(stopped.state).toBe("stopped");
      for (const e of events) expect(Number.isNaN(Date.parse(e.time))).toBe(false);

      await human.waitLine((l) => l.includes("crash failed: "), "human failed line");
      const text = human.lines.join("\n");
      expect(text).toMatch(/crash exited with code 3 \(pid \d+\)/);
      expect(text).toMatch(/crash restarting in \d+ ms/);
      expect(text).toMatch(/killed exited with signal SIGKILL/);
      expect(text).not.toContain("\x1b["); // piped: no colour

      expect((await d.cli(["daemon", "stop"])).code).toBe(0);
      expect(await watch.exited()).toBe(0);
      expect(await human.exited()).toBe(0);
      expect(watch.stderr).toContain("adi daemon stopped");
    } finally {
      watch.stop();
      human.stop();
    }
  }, 120_000);
});
