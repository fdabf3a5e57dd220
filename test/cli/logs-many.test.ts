import { afterEach, expect, test } from "bun:test";
import { cleanupDaemons, newDaemon } from "../services/helpers.ts";
import { Running } from "./helpers.ts";

afterEach(cleanupDaemons);

// `logs --all -f` opened every follow on one connection, and the daemon holds at most 256 streams on
// one: with 256 services or more it printed the backlog, then failed ("a connection holds at most 256
// open streams"). It now spreads the follows over as many connections as it needs.
test("--all -f follows 300 services, and one more started later, over several connections", async () => {
  const d = newDaemon();
  await d.start();
  const client = d.client({ timeoutMs: 30_000 });
  const SERVICES = 300;
  try {
    const started: Promise<void>[] = [];
    for (let i = 0; i < SERVICES; i++) started.push(client.startService(`s${i}`, { command: "sh", args: ["-c", `echo hello s${i}; exec sleep 600`] }));
    await Promise.all(started);
    const follow = new Running(d, ["daemon", "logs", "--all", "-f", "-n", "1"]);
    try {
      for (let i = 0; i < SERVICES; i++) await follow.waitLine((l) => l.endsWith(`out hello s${i}`), `s${i}'s backlog`);
      // Live lines reach the follow from services on every connection, the last ones included.
      for (const i of [0, 150, SERVICES - 1]) await client.restartService(`s${i}`);
      for (const i of [0, 150, SERVICES - 1]) await follow.waitLine((l) => /restarted \(pid \d+\)/.test(l) && l.includes(` s${i} `), `s${i}'s restart`);
      await client.startService("late", { command: "sh", args: ["-c", "echo late arrival; exec sleep 600"] });
      await follow.waitLine((l) => l.endsWith("out late arrival"), "a service started after the follow began");
      expect(follow.stderr).toBe("");
      expect(follow.proc.exitCode).toBeNull();
    } finally {
      follow.stop();
    }
  } finally {
    client.close();
  }
}, 120_000);
